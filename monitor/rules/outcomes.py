"""Retry outcomes: what a client did after a conflict.

The outcome of a conflict is decided by the same client's next write (POST, PUT, PATCH,
DELETE; reads in between are refetches) to the same resource within RETRY_HORIZON:

- a 2xx: `resolved`, with the milliseconds from the conflict to it;
- another failure: `blind` when it resent the same If-Match (or, for a create, the same
  Idempotency-Key), else `retried`;
- none within the horizon: `abandoned` once the horizon has passed, `pending` until then.

The outcome is a function of the stored rows, so it is recomputed whenever a batch brings a
write that may be the next one (records arrive late and out of order), and finalized by
`monitor.pipeline.finalize` (beat) when the horizon passes with no write.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from monitor.rules.causes import is_successful_write

RETRY_HORIZON = timedelta(minutes=10)
OUTCOMES = ("resolved", "retried", "blind", "abandoned", "pending")


@dataclass(frozen=True)
class Attempt:
    """A write as the outcome rule sees it."""

    id: int
    ts: datetime
    method: str
    status: int
    if_match: str | None
    idempotency_key: str | None


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
    same_tag = conflict.if_match is not None and following.if_match == conflict.if_match
    same_key = (
        conflict.method == "POST"
        and conflict.idempotency_key is not None
        and following.idempotency_key == conflict.idempotency_key
    )
    return Outcome("blind" if same_tag or same_key else "retried", None, following.id, ms)


def attempt(row: dict) -> Attempt:
    """An Attempt from a row dict with id, ts, method, status and request_headers."""
    headers = row.get("request_headers") or {}
    return Attempt(
        row["id"],
        row["ts"],
        row["method"],
        row["status"],
        headers.get("if-match"),
        headers.get("idempotency-key"),
    )
