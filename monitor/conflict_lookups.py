"""The row lookups of the conflict analysis (monitor/conflict_analysis.py).

Each runs once per aggregated batch, inside its transaction. On Postgres there are two
statements of raw SQL taking their lists as binary arrays (`= ANY(%b)`, `unnest`;
ingest/prepared.py), so that their text and plan stay the same whatever the batch holds:
`lock_decidable` and `next_writes_and_winners`. Elsewhere (SQLite) the ORM does the same in
a few queries. Every lookup bounds `ts`, which lets Postgres read only the day partitions
concerned.
"""

from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import msgspec
from django.db import connection
from django.db.models import Q
from psycopg.types.json import set_json_loads

from ingest.models import Request
from ingest.prepared import prepared_cursor
from monitor.conflicts import CONFLICT_STATUSES, RACE_METHODS, WRITE_METHODS

_TABLE = Request._meta.db_table
# Constants are written into the SQL text, not passed as parameters: a prepared statement's
# generic plan can then use the partial indexes on conflict statuses.
_CONFLICT_STATUSES = ", ".join(str(s) for s in sorted(CONFLICT_STATUSES))
_RACE_METHODS = ", ".join(f"'{m}'" for m in sorted(RACE_METHODS))
_WRITE_METHODS = ", ".join(f"'{m}'" for m in sorted(WRITE_METHODS))

# What the analysis reads of a conflict it may decide (lock_decidable).
LOCKED_FIELDS = (
    "id",
    "endpoint_id",
    "ts",
    "method",
    "status",
    "client",
    "resource",
    "duration_ms",
    "request_headers",
    "response_headers",
    "response_body",
    "cause",
    "cause_reason",
    "race_winner_id",
    "retry_outcome",
    "resolved_after_ms",
    "next_attempt_ms",
)


def _postgres() -> bool:
    return connection.vendor == "postgresql"


@dataclass(frozen=True)
class Decidable:
    """The conflicts a batch may decide (monitor/conflict_analysis.py):

    - its own (`own`: {id: ts});
    - stored conflicts of other batches by the same client to the same resource before one of
      its writes (`writes`: {(client, resource): sorted times}) within `retry_span`, which that
      write may be the next attempt after: all but those whose next write (`next_attempt_ms`)
      came before the pair's first write in the batch (one decided between two of its writes
      is decided again, and stays as it was);
    - stored 409s without a winner on a resource of its successful writes (`won`) within
      `race_span`, which one of those writes may have beaten.
    """

    project_id: int
    batch_id: int
    own: dict[int, datetime]
    writes: dict[tuple[str, str], list[datetime]]
    retry_span: tuple[datetime, datetime] | None
    won: set[str]
    race_span: tuple[datetime, datetime] | None

    def bounds(self) -> tuple[datetime, datetime]:
        times = [*self.own.values()]
        for span in (self.retry_span, self.race_span):
            if span is not None:
                times += span
        return min(times), max(times)


# Spans that select nothing, for a side of the lookup a batch does not need.
_NOWHERE = (datetime.max.replace(tzinfo=UTC), datetime.min.replace(tzinfo=UTC))

_LOCK_DECIDABLE = f"""
SELECT {", ".join(f"r.{name}" for name in LOCKED_FIELDS)} FROM {_TABLE} r
WHERE r.ts >= %(start)b AND r.ts <= %(end)b AND r.id IN (
    SELECT unnest(%(own)b::bigint[])
  UNION ALL
    SELECT c.id FROM {_TABLE} c
    WHERE c.project_id = %(project)b AND c.status IN ({_CONFLICT_STATUSES})
      AND c.batch_id IS DISTINCT FROM %(batch)b
      AND c.ts >= %(retry_start)b AND c.ts <= %(retry_end)b
      AND EXISTS (
        SELECT FROM unnest(%(clients)b::text[], %(resources)b::text[],
                           %(firsts)b::timestamptz[], %(lasts)b::timestamptz[])
            AS w(client, resource, first, last)
        WHERE w.client = c.client AND w.resource = c.resource AND w.last > c.ts
          AND (c.next_attempt_ms IS NULL
               OR w.first <= c.ts + c.next_attempt_ms * interval '1 millisecond'))
  UNION ALL
    SELECT c.id FROM {_TABLE} c
    WHERE c.project_id = %(project)b AND c.status = 409 AND c.batch_id IS DISTINCT FROM %(batch)b
      AND c.resource = ANY(%(won)b) AND c.ts >= %(race_start)b AND c.ts <= %(race_end)b
      AND c.method IN ({_RACE_METHODS}) AND c.race_winner_id IS NULL
      AND (c.cause IS NULL OR c.cause IN ('unknown', 'duplicate'))
)
ORDER BY r.id FOR NO KEY UPDATE OF r
"""


def lock_decidable(d: Decidable) -> Callable[[], list[dict]]:
    """Lock the conflicts the batch may decide, in id order and in one statement (so that two
    workers cannot deadlock on them), and read them as they are once the lock is held.

    Returns the function that reads them. On Postgres the statement is sent before that, so
    that inside a pipeline (ingest/prepared.py) Postgres runs it while the caller goes on."""
    start, end = d.bounds()
    if _postgres():
        retry_start, retry_end = d.retry_span or _NOWHERE
        race_start, race_end = d.race_span or _NOWHERE
        with ExitStack() as stack:
            cursor = stack.enter_context(prepared_cursor())
            # Binary results: the jsonb headers arrive decoded, here by msgspec.
            set_json_loads(msgspec.json.decode, cursor)
            cursor.execute(
                _LOCK_DECIDABLE,
                {
                    "start": start,
                    "end": end,
                    "own": sorted(d.own),
                    "project": d.project_id,
                    "batch": d.batch_id,
                    "retry_start": retry_start,
                    "retry_end": retry_end,
                    "clients": [client for client, _ in d.writes],
                    "resources": [resource for _, resource in d.writes],
                    "firsts": [times[0] for times in d.writes.values()],
                    "lasts": [times[-1] for times in d.writes.values()],
                    "won": sorted(d.won),
                    "race_start": race_start,
                    "race_end": race_end,
                },
            )
            open_cursor = stack.pop_all()

        def read() -> list[dict]:
            with open_cursor:
                return [dict(zip(LOCKED_FIELDS, row, strict=True)) for row in cursor.fetchall()]

        return read
    ids = set(d.own) | _retry_candidates(d) | _race_candidates(d)
    rows = list(
        Request.objects.filter(id__in=sorted(ids), ts__gte=start, ts__lte=end)
        .order_by("id")
        .select_for_update(no_key=True)
        .values(*LOCKED_FIELDS)
    )
    return lambda: rows


def _stored(d: Decidable):
    return Request.objects.filter(project_id=d.project_id, status__in=CONFLICT_STATUSES).exclude(
        batch_id=d.batch_id
    )


def _retry_candidates(d: Decidable) -> set[int]:
    if d.retry_span is None or not d.writes:
        return set()
    found = set()
    for cid, ts, client, resource, next_ms in (
        _stored(d)
        .filter(
            resource__in={resource for _, resource in d.writes},
            client__in={client for client, _ in d.writes},
            ts__gte=d.retry_span[0],
            ts__lte=d.retry_span[1],
        )
        .values_list("id", "ts", "client", "resource", "next_attempt_ms")
    ):
        times = d.writes.get((client, resource))
        if not times or times[-1] <= ts:
            continue
        if next_ms is not None and ts + timedelta(milliseconds=next_ms) < times[0]:
            continue  # decided by a write before anything this batch brings
        found.add(cid)
    return found


def _race_candidates(d: Decidable) -> set[int]:
    if d.race_span is None or not d.won:
        return set()
    return set(
        _stored(d)
        .filter(
            Q(cause__isnull=True) | Q(cause__in=("unknown", "duplicate")),
            resource__in=d.won,
            ts__gte=d.race_span[0],
            ts__lte=d.race_span[1],
            status=409,
            method__in=RACE_METHODS,
            race_winner__isnull=True,
        )
        .values_list("id", flat=True)
    )


def successful_writes(
    project_id: int, resources: set[str], start: datetime, end: datetime
) -> list[tuple]:
    """(id, client, method, ts, resource) of the 2xx writes to these resources between start
    and end, in (ts, id) order: the race winners' candidates (monitor/races.py, SQLite)."""
    return list(
        Request.objects.filter(
            project_id=project_id,
            resource__in=resources,
            ts__gte=start,
            ts__lte=end,
            status__gte=200,
            status__lt=300,
            method__in=WRITE_METHODS,
        )
        .order_by("ts", "id")
        .values_list("id", "client", "method", "ts", "resource")
    )


# The same client's writes to the conflict's resource after it.
_NEXT_WRITE = f"""
    FROM {_TABLE} r
    WHERE r.project_id = %(project)b AND r.resource = c.resource AND r.client = c.client
      AND r.method IN ({_WRITE_METHODS}) AND (r.ts > c.ts OR r.id > c.id)"""
# Other clients' successful writes to the conflict's resource.
_WINNING_WRITE = f"""
    FROM {_TABLE} r
    WHERE r.project_id = %(project)b AND r.resource = c.resource
      AND r.client IS DISTINCT FROM c.client
      AND r.status >= 200 AND r.status < 300 AND r.method IN ({_WRITE_METHODS})"""
# Each lookup takes two steps: the time, in the order of the (project, resource, ts) index and
# of the day partitions, so that the walk stops at the first row found; then the row of that
# time with the lowest (next write) or highest (winner) id. One `ORDER BY ts, id` would read
# every row of the resource in the range and sort them.
_NEXT_WRITES_AND_WINNERS = f"""
SELECT c.id, n.id, n.ts, n.method, n.status, n.request_headers ->> 'if-match',
       n.request_headers ->> 'idempotency-key', w.id, w.client, w.method, w.ts
FROM unnest(%(ids)b::bigint[], %(times)b::timestamptz[], %(clients)b::text[],
            %(resources)b::text[], %(until)b::timestamptz[], %(since)b::timestamptz[])
    AS c(id, ts, client, resource, until, since)
LEFT JOIN LATERAL (
    SELECT r.ts {_NEXT_WRITE} AND r.ts >= c.ts AND r.ts <= c.until ORDER BY r.ts LIMIT 1
) AS next_at ON true
LEFT JOIN LATERAL (
    SELECT r.id, r.ts, r.method, r.status, r.request_headers {_NEXT_WRITE}
      AND r.ts = next_at.ts ORDER BY r.id LIMIT 1
) AS n ON true
LEFT JOIN LATERAL (
    SELECT r.ts {_WINNING_WRITE} AND r.ts >= c.since AND r.ts <= c.ts ORDER BY r.ts DESC LIMIT 1
) AS won_at ON true
LEFT JOIN LATERAL (
    SELECT r.id, r.client, r.method, r.ts {_WINNING_WRITE}
      AND r.ts = won_at.ts ORDER BY r.id DESC LIMIT 1
) AS w ON true
"""


@dataclass(frozen=True)
class Ask:
    """What to look up for one conflict: its next write up to `until`, its race winner from
    `since` (None: not wanted)."""

    id: int
    ts: datetime
    client: str | None
    resource: str
    until: datetime | None
    since: datetime | None


def next_writes_and_winners(project_id: int, asks: list[Ask]) -> list[tuple]:
    """Postgres, one statement for all the conflicts asked about: for each, (id, then its next
    write: id, ts, method, status, If-Match, Idempotency-Key; then its race winner: id, client,
    method, ts), with Nones where there is none.

    The next write is the same client's first write (by time, then id) to the resource after
    the conflict, up to `until`. The race winner is the latest successful write (by time, then
    id) by another client to the resource from `since` up to the conflict's time."""
    with prepared_cursor() as cursor:
        cursor.execute(
            _NEXT_WRITES_AND_WINNERS,
            {
                "ids": [a.id for a in asks],
                "times": [a.ts for a in asks],
                "clients": [a.client for a in asks],
                "resources": [a.resource for a in asks],
                "until": [a.until for a in asks],
                "since": [a.since for a in asks],
                "project": project_id,
            },
        )
        return cursor.fetchall()
