"""Webhook and Slack delivery: one JSON POST to the channel's URL, and to no other host.

A webhook's body is the message as data (monitor/alerts/content.py), signed with the channel's
secret: `X-ConflictWatch-Signature: sha256=<hex HMAC-SHA256 of the body>`; a Slack channel gets
an incoming-webhook payload (monitor/alerts/slack.py). Redirects are not followed (a receiver
cannot send the message, or its signature, to a host nobody configured) and proxy settings of
the environment are not used. Messages go to public addresses only, unless an operator allows a
network (monitor/alerts/destinations.py). A 2xx answer is delivered; 408, 425, 429, 5xx and network errors
are retried with back-off by monitor/alerts/delivery.py; any other answer gives up at once.
"""

import hashlib
import hmac
import json
import re

import httpx
from django.conf import settings

from monitor.alerts import content, destinations, slack
from monitor.alerts.delivery import GiveUp
from monitor.alerts.models import Channel, Notification

USER_AGENT = "ConflictWatch-Webhook/1"
RETRIED_STATUSES = frozenset({408, 425, 429})
# What of a receiver's answer is kept in the delivery log.
ANSWER_SHOWN = 200
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


class ReceiverError(Exception):
    """The receiver answered with something other than 2xx (retried)."""


def signature(secret: str, body: bytes) -> str:
    """The value of X-ConflictWatch-Signature for `body`: 'sha256=' + hex HMAC-SHA256."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def body_of(notification: Notification) -> bytes:
    """The bytes POSTed: the message as JSON (webhook) or as Slack blocks (slack)."""
    facts = content.facts(notification)
    data = slack.message(facts) if notification.via == Channel.Kind.SLACK else facts
    # ASCII-only JSON: every receiver's parser reads it, whatever the log lines held.
    return json.dumps(data, ensure_ascii=True, separators=(",", ":")).encode()


def headers_for(notification: Notification, body: bytes) -> dict[str, str]:
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-ConflictWatch-Event": notification.kind,
        "X-ConflictWatch-Delivery": str(notification.id),
    }
    channel = notification.channel
    if channel is not None and channel.secret:
        headers["X-ConflictWatch-Signature"] = signature(channel.secret, body)
    return headers


def _answer_text(raw: bytes) -> str:
    text = _CONTROL.sub(" ", raw.decode("utf-8", "replace")).strip()
    return text[:ANSWER_SHOWN]


def post(target: str, body: bytes, headers: dict[str, str]) -> int:
    """POST `body` to `target` once; answers the status, raises ReceiverError (retry) or GiveUp."""
    try:
        destination = destinations.resolve(target)
    except destinations.Refused as exc:
        raise GiveUp(f"not sent: {exc}") from None
    except destinations.Unresolved as exc:
        raise ReceiverError(str(exc)) from None
    with (
        httpx.Client(
            timeout=settings.ALERTS_WEBHOOK_TIMEOUT, follow_redirects=False, trust_env=False
        ) as client,
        client.stream(
            "POST",
            destination.url,
            content=body,
            headers={**headers, "Host": destination.host_header},
            extensions={"sni_hostname": destination.host},
        ) as response,
    ):
        status = response.status_code
        if 200 <= status < 300:
            return status
        # Read a little of the answer for the log, never all of it.
        raw = b""
        for chunk in response.iter_bytes():
            raw += chunk
            if len(raw) >= ANSWER_SHOWN:
                break
        said = _answer_text(raw)
        if 300 <= status < 400:
            where = response.headers.get("location", "")[:ANSWER_SHOWN]
            raise GiveUp(
                f"HTTP {status}: redirect to {where!r} not followed (messages go to the "
                "configured URL only; set the channel to the final URL)"
            )
        message = f"HTTP {status}" + (f": {said}" if said else "")
        if status >= 500 or status in RETRIED_STATUSES:
            raise ReceiverError(message)
        raise GiveUp(message)


def send(notification: Notification) -> None:
    """Deliver a webhook or Slack notification; raises on failure (see `post`)."""
    body = body_of(notification)
    post(notification.target, body, headers_for(notification, body))
