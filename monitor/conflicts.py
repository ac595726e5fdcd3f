"""Why a conflict happened: one cause per 409/412/423/428, with the reason that decided it.

The order of the checks is the contract in docs/architecture.md ("first match wins").
"""

import re
from dataclasses import dataclass
from datetime import datetime

CONFLICT_STATUSES = frozenset({409, 412, 423, 428})
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
RACE_METHODS = frozenset({"PUT", "PATCH", "DELETE"})
CAUSES = (
    "missing_precondition",
    "lock",
    "stale_version",
    "idempotency",
    "duplicate",
    "concurrent_write",
    "unknown",
)
_LOCK_WORDS = re.compile(r"\b(lock|locked|locking)\b")
_VERSION_WORDS = re.compile(r"(version|etag|stale|modified)")
_DUPLICATE_WORDS = re.compile(r"(exists|duplicate|unique)")


@dataclass(frozen=True)
class Verdict:
    cause: str
    reason: str


@dataclass(frozen=True)
class RaceWinner:
    id: int
    client: str | None
    method: str
    ts: datetime


def is_conflict(status: int) -> bool:
    return status in CONFLICT_STATUSES


def is_successful_write(method: str, status: int) -> bool:
    return method in WRITE_METHODS and 200 <= status < 300


def _phrase(pattern: re.Pattern[str], body: str) -> str | None:
    match = pattern.search(body)
    return match.group(0) if match else None


def classify(
    *,
    method: str,
    status: int,
    request_headers: dict,
    response_headers: dict,
    body: str | None,
    winner: RaceWinner | None = None,
    resource: str = "",
) -> Verdict:
    """The cause of one conflict response and a sentence naming the signal that decided it.

    `winner` is another client's successful write to the same resource within the race window
    before this request, when the caller found one.
    """
    text = (body or "").lower()
    if status == 428:
        return Verdict(
            "missing_precondition", "status 428: the server requires a conditional request"
        )
    if status == 423:
        return Verdict("lock", "status 423: the resource is locked")
    if status == 409:
        if "retry-after" in response_headers:
            return Verdict(
                "lock", f"409 with Retry-After: {response_headers['retry-after']} (a lock held)"
            )
        word = _phrase(_LOCK_WORDS, text)
        if word:
            return Verdict("lock", f"409 and the response body says {word!r}")
    if status == 412:
        sent = _precondition_sent(request_headers)
        suffix = f" ({sent} did not match)" if sent else ""
        return Verdict("stale_version", f"status 412: a precondition failed{suffix}")
    sent = _precondition_sent(request_headers)
    if sent:
        return Verdict("stale_version", f"409 on a request that sent {sent}")
    word = _phrase(_VERSION_WORDS, text)
    if word:
        return Verdict("stale_version", f"409 and the response body mentions {word!r}")
    if "idempotency-key" in request_headers:
        return Verdict("idempotency", "409 on a request that sent an Idempotency-Key")
    if method == "POST":
        return Verdict("duplicate", "409 on POST: a create that already happened")
    if method == "PUT" and request_headers.get("if-none-match", "").strip() == "*":
        return Verdict("duplicate", "409 on PUT with If-None-Match: * (create-only)")
    word = _phrase(_DUPLICATE_WORDS, text)
    if word:
        return Verdict("duplicate", f"409 and the response body mentions {word!r}")
    if winner is not None and method in RACE_METHODS:
        who = winner.client or "another client"
        return Verdict(
            "concurrent_write",
            f"409 on {method} right after {who}'s successful {winner.method} of {resource}",
        )
    return Verdict("unknown", f"{status} with no signal that identifies the cause")


def _precondition_sent(request_headers: dict) -> str | None:
    if "if-match" in request_headers:
        return f"If-Match: {request_headers['if-match']}"
    if "if-unmodified-since" in request_headers:
        return f"If-Unmodified-Since: {request_headers['if-unmodified-since']}"
    return None
