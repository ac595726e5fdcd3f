"""Retry outcomes: what a client did after a conflict.

The outcome of a conflict is decided by the same client's next write (POST, PUT, PATCH,
DELETE; reads in between are refetches) to the same resource within RETRY_HORIZON:

- a 2xx: `resolved`, with the milliseconds from the conflict to it;
- another failure: `blind` when it resent the same If-Match (or, for a create, the same
  Idempotency-Key), else `retried`;
- none within the horizon: `abandoned` once the horizon has passed, `pending` until then.

The outcome is a function of the stored rows, so it is recomputed whenever a batch brings a
write that may be the next one (records arrive late and out of order), and finalized by
`finalize_pending` (beat) when the horizon passes with no write.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection
from django.db.models.fields.json import KeyTextTransform

from ingest.models import Request
from monitor.conflict_lookups import Ask, next_writes_and_winners
from monitor.conflicts import CONFLICT_STATUSES

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
    if 200 <= following.status < 300:
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


def next_writes(
    project_id: int, conflicts: list[dict], bounds: dict[int, datetime] | None = None
) -> dict[int, Attempt]:
    """{conflict id: the same client's next write to the same resource within the horizon},
    for conflicts given as dicts with id, ts, client and resource. `bounds` may give a time
    by which a conflict's next write is known to have happened (a later write of the same
    client and resource): the lookup stops there.

    On Postgres one LATERAL query walks the (project, resource, ts) index forward from each
    conflict and stops at the first write (conflict_lookups.next_writes_and_winners); on
    SQLite a correlated subquery does the same.
    """
    conflicts = [c for c in conflicts if c["client"] is not None]
    if not conflicts:
        return {}
    bounds = bounds or {}
    if connection.vendor == "postgresql":
        return next_attempts(
            next_writes_and_winners(project_id, next_write_asks(conflicts, bounds))
        )
    until = [_lookup_until(c, bounds) for c in conflicts]
    return _next_writes_sqlite(project_id, conflicts, until)


def next_write_asks(conflicts: list[dict], bounds: dict[int, datetime]) -> list[Ask]:
    """What conflict_lookups.next_writes_and_winners is asked for these conflicts' next
    writes (no race winners)."""
    return [
        Ask(c["id"], c["ts"], c["client"], c["resource"], _lookup_until(c, bounds), None)
        for c in conflicts
    ]


def next_attempts(rows: list[tuple]) -> dict[int, Attempt]:
    """{conflict id: next write} from the rows of conflict_lookups.next_writes_and_winners."""
    return {row[0]: Attempt(*row[1:7]) for row in rows if row[1] is not None}


def _lookup_until(conflict: dict, bounds: dict[int, datetime]) -> datetime:
    """How far the next write of a conflict is looked for."""
    horizon = conflict["ts"] + RETRY_HORIZON
    return min(bounds.get(conflict["id"], horizon), horizon)


# SQLite allows 32,766 parameters per statement since 3.32; five per conflict.
_SQLITE_CHUNK = 2000


def _next_writes_sqlite(
    project_id: int, conflicts: list[dict], until: list[datetime]
) -> dict[int, Attempt]:
    """Two queries for any number of conflicts: a correlated subquery finds each conflict's
    next write id through the (project, resource, ts) index, then one query reads them."""
    adapt = connection.ops.adapt_datetimefield_value
    next_ids: dict[int, int] = {}
    with connection.cursor() as cursor:
        for start in range(0, len(conflicts), _SQLITE_CHUNK):
            chunk = conflicts[start : start + _SQLITE_CHUNK]
            values = ", ".join(["(%s, %s, %s, %s, %s)"] * len(chunk))
            params: list = []
            for c, last in zip(chunk, until[start : start + _SQLITE_CHUNK], strict=True):
                params += [c["id"], adapt(c["ts"]), adapt(last)]
                params += [c["client"], c["resource"]]
            cursor.execute(
                f"WITH c(id, ts, until, client, resource) AS (VALUES {values}) "
                "SELECT c.id, (SELECT r.id FROM "
                f"{Request._meta.db_table} r WHERE r.project_id = %s "
                "AND r.resource = c.resource AND r.client = c.client "
                "AND r.method IN ('POST', 'PUT', 'PATCH', 'DELETE') "
                "AND r.ts >= c.ts AND r.ts <= c.until AND (r.ts > c.ts OR r.id > c.id) "
                "ORDER BY r.ts, r.id LIMIT 1) FROM c",
                [*params, project_id],
            )
            next_ids.update((cid, nid) for cid, nid in cursor.fetchall() if nid is not None)
    if not next_ids:
        return {}
    rows = {
        row["id"]: _attempt_row(row)
        for row in Request.objects.filter(id__in=set(next_ids.values()))
        .annotate(
            if_match=KeyTextTransform("if-match", "request_headers"),
            idem=KeyTextTransform("idempotency-key", "request_headers"),
        )
        .values("id", "ts", "method", "status", "if_match", "idem")
    }
    return {cid: rows[nid] for cid, nid in next_ids.items()}


def _attempt_row(row: dict) -> Attempt:
    return Attempt(row["id"], row["ts"], row["method"], row["status"], row["if_match"], row["idem"])


def is_tracked(row: dict) -> bool:
    """Conflicts get an outcome when their client is known (the rule is about one client)."""
    return row["status"] in CONFLICT_STATUSES and row["client"] is not None
