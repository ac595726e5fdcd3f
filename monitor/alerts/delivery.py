"""Storing and sending alert messages so that an unreachable SMTP server or webhook receiver
delays them but never loses them.

A Notification row is written in the transaction that decided to send (state pending, due now):
one mail to the rule's recipients, one POST per channel (monitor/alerts/webhooks.py); after
commit a task tries to send each. A sender claims a due notification with a conditional
update that pushes `next_attempt_at` out by a lease (ALERTS_SEND_LEASE_SECONDS), so two senders
(the task and the periodic sweep) never both send it; a sender that dies mid-send leaves the
lease to expire and the sweep retries. A failed attempt is stored with its error and retried
with exponential back-off (ALERTS_RETRY_BASE_SECONDS doubling up to ALERTS_RETRY_MAX_SECONDS)
until ALERTS_MAX_ATTEMPTS, after which it stays failed with no next attempt.
"""

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from monitor.alerts.models import AlertRule, Channel, Incident, Notification

log = logging.getLogger(__name__)
DUE_BATCH = 100


class GiveUp(Exception):
    """A failure that no retry can fix (the receiver refused the message, the channel is gone)."""


def store(
    rule: AlertRule,
    kind: str,
    event_at: datetime,
    *,
    incident: Incident | None = None,
    sequence: int = 0,
    channel: Channel | None = None,
) -> Notification:
    """Store a message to send: a mail to the rule's recipients, or a POST to `channel`. It is
    sent after the transaction commits (and retried by the sweep if that fails)."""
    notification = Notification.objects.create(
        rule=rule,
        incident=incident,
        kind=kind,
        sequence=sequence,
        event_at=event_at,
        via=channel.kind if channel else Notification.Via.EMAIL,
        channel=channel,
        target=channel.target if channel else "",
        recipients=[] if channel else list(rule.recipients),
        next_attempt_at=timezone.now(),
    )
    transaction.on_commit(lambda: enqueue(notification.id))
    return notification


def store_for_rule(
    rule: AlertRule,
    kind: str,
    event_at: datetime,
    *,
    incident: Incident | None = None,
    sequence: int = 0,
) -> list[Notification]:
    """Store one message per destination of the rule: its recipients (one mail) and each
    channel."""
    stored = []
    if rule.recipients:
        stored.append(store(rule, kind, event_at, incident=incident, sequence=sequence))
    for channel in rule.channels.all():
        stored.append(
            store(rule, kind, event_at, incident=incident, sequence=sequence, channel=channel)
        )
    return stored


def enqueue(notification_id: int) -> None:
    """Ask a worker to send it now. Failing to ask loses nothing: the sweep finds it."""
    from monitor.alerts.tasks import deliver_notification

    try:
        deliver_notification.delay(notification_id)
    except Exception:  # noqa: BLE001 - broker down, or the in-process send raised
        log.warning("notification %s left for the delivery sweep", notification_id, exc_info=True)


def backoff(attempts: int) -> timedelta:
    """The wait after the `attempts`-th failed attempt: base, 2 × base, 4 × base, … capped."""
    seconds = settings.ALERTS_RETRY_BASE_SECONDS * 2 ** max(attempts - 1, 0)
    return timedelta(seconds=min(seconds, settings.ALERTS_RETRY_MAX_SECONDS))


def send(notification: Notification) -> None:
    """Send one message the way it travels; raises on failure (GiveUp when retrying is vain)."""
    from monitor.alerts import mail, webhooks

    if notification.via == Notification.Via.EMAIL:
        mail.send(notification)
    elif notification.channel is None:
        raise GiveUp("the channel was removed from the rule")
    else:
        webhooks.send(notification)


def deliver(notification_id: int, now: datetime | None = None) -> bool:
    """Send one notification if it is due and nobody else is sending it. True when sent."""
    now = now or timezone.now()
    lease = now + timedelta(seconds=settings.ALERTS_SEND_LEASE_SECONDS)
    claimed = Notification.objects.filter(
        pk=notification_id,
        state__in=[Notification.State.PENDING, Notification.State.FAILED],
        next_attempt_at__lte=now,
    ).update(next_attempt_at=lease, attempts=F("attempts") + 1)
    if not claimed:
        return False
    notification = Notification.objects.select_related(
        "rule__project", "rule__endpoint", "rule__source", "incident", "channel"
    ).get(pk=notification_id)
    try:
        send(notification)
    except Exception as exc:  # noqa: BLE001 - SMTP, HTTP, DNS, TLS, rendering: all retried alike
        gave_up = isinstance(exc, GiveUp) or notification.attempts >= settings.ALERTS_MAX_ATTEMPTS
        Notification.objects.filter(pk=notification_id).update(
            state=Notification.State.FAILED,
            last_error=f"{type(exc).__name__}: {exc}"[:1000],
            next_attempt_at=None if gave_up else now + backoff(notification.attempts),
        )
        log.warning(
            "sending %s %s %s failed (attempt %s)%s: %s",
            notification.kind,
            notification.via,
            notification_id,
            notification.attempts,
            ", giving up" if gave_up else "",
            exc,
        )
        return False
    Notification.objects.filter(pk=notification_id).update(
        state=Notification.State.SENT, sent_at=timezone.now(), next_attempt_at=None, last_error=""
    )
    return True


def deliver_due(now: datetime | None = None) -> int:
    """Send every notification whose (next) attempt is due; answers how many were sent."""
    now = now or timezone.now()
    due = list(
        Notification.objects.filter(
            state__in=[Notification.State.PENDING, Notification.State.FAILED],
            next_attempt_at__lte=now,
        )
        .order_by("next_attempt_at", "id")
        .values_list("id", flat=True)[:DUE_BATCH]
    )
    return sum(deliver(notification_id, now) for notification_id in due)
