"""Retry outcomes: what a client did after a conflict.

The outcome of a conflict is decided by the same client's next write (POST, PUT, PATCH,
DELETE; reads in between are refetches) to the same resource within RETRY_HORIZON:

- a 2xx: `resolved`, with the milliseconds from the conflict to it;
- another failure: `blind` when it resent the same version signal (If-Match, or a version
  header or query parameter of the project's settings: `?rev=3-abc` again) or, for a create,
  the same Idempotency-Key; else `retried`;
- none within the horizon: `abandoned` once the horizon has passed, `pending` until then.

A create (POST) is retried only by a POST that shows it is the same create again: the same
Idempotency-Key when the conflict sent one, else the same request size within
RETRY_EVIDENCE_WINDOW. Another create of the same client to the same collection is a different
create, not the retry (`is_retry_of`).

The outcome is a function of the stored rows, so it is recomputed whenever a batch brings a
write that may be the next one (records arrive late and out of order), and finalized by
`monitor.pipeline.finalize` (beat) when the horizon passes with no write.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from monitor.rules.causes import is_successful_write
from monitor.rules.versions import DEFAULT_SIGNALS, VersionSignals

RETRY_HORIZON = timedelta(minutes=10)
RETRY_EVIDENCE_WINDOW = timedelta(seconds=60)
OUTCOMES = ("resolved", "retried", "blind", "abandoned", "pending")


@dataclass(frozen=True)
class Attempt:
    """A write as the outcome rule sees it."""

    id: int
    ts: datetime
    method: str
    status: int
    version: str | None  # the version signal it sent, as `?rev=3-abc` or `If-Match: "v3"`
    idempotency_key: str | None
    request_bytes: int | None = None


@dataclass(frozen=True)
class Outcome:
    outcome: str
    resolved_after_ms: float | None
    next_id: int | None
    # Milliseconds from the conflict to the next write that decided it (resolved, retried or
    # blind): a later batch can change the outcome only with a write before that one.
    next_after_ms: float | None = None


def decide(conflict: Attempt, following: Attempt | None, now: datetime) -> Outcome:
    """The outcome of `conflict` given the client's next write to the resource (or None)."""
    if following is None or following.ts - conflict.ts > RETRY_HORIZON:
        if now - conflict.ts >= RETRY_HORIZON:
            return Outcome("abandoned", None, None)
        return Outcome("pending", None, None)
    ms = round((following.ts - conflict.ts).total_seconds() * 1000, 3)
    if is_successful_write(following.method, following.status):
        return Outcome("resolved", ms, following.id, ms)
    same_tag = conflict.version is not None and following.version == conflict.version
    same_key = (
        conflict.method == "POST"
        and conflict.idempotency_key is not None
        and following.idempotency_key == conflict.idempotency_key
    )
    return Outcome("blind" if same_tag or same_key else "retried", None, following.id, ms)


def is_retry_of(conflict: Attempt, write: Attempt) -> bool:
    """Whether `write` may be the next attempt of `conflict`: any write for a conflict on a
    resource; for a create (POST), a POST with the same Idempotency-Key (when the conflict sent
    one), else one of the same request size within RETRY_EVIDENCE_WINDOW."""
    if conflict.method != "POST":
        return True
    if write.method != "POST":
        return False
    if conflict.idempotency_key is not None:
        return write.idempotency_key == conflict.idempotency_key
    return (
        conflict.request_bytes is not None
        and write.request_bytes == conflict.request_bytes
        and write.ts - conflict.ts <= RETRY_EVIDENCE_WINDOW
    )


def attempt(row: dict, signals: VersionSignals = DEFAULT_SIGNALS) -> Attempt:
    """An Attempt from a row dict with id, ts, method, status, request_headers and (when
    stored) query and request_bytes."""
    headers = row.get("request_headers") or {}
    sent = signals.sent(headers, row.get("query"))
    return Attempt(
        row["id"],
        row["ts"],
        row["method"],
        row["status"],
        str(sent) if sent else None,
        headers.get("idempotency-key"),
        row.get("request_bytes"),
    )
