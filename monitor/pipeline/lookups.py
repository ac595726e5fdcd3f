"""The raw-row lookups of the conflict analysis (monitor/pipeline/analysis.py): the conflicts a
batch may decide (locked), the same client's next write after a conflict, and the race winner
before it.

Each runs once per aggregated batch, inside its transaction. On Postgres there are two
statements of raw SQL taking their lists as binary arrays (`= ANY(%b)`, `unnest`;
ingest/prepared.py), so that their text and plan stay the same whatever the batch holds:
`lock_decidable` and `next_writes_and_winners`. Elsewhere (SQLite) the ORM does the same in
a few queries. Every lookup bounds `ts`, which lets Postgres read only the day partitions
concerned.
"""

from collections import defaultdict
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

import msgspec
from django.db import connection
from django.db.models import Q
from django.db.models.fields.json import KeyTextTransform
from psycopg.types.json import set_json_loads

from ingest.models import Request
from ingest.prepared import prepared_cursor
from monitor.rules.causes import CONFLICT_STATUSES, RACE_METHODS, WRITE_METHODS, RaceWinner
from monitor.rules.outcomes import RETRY_HORIZON, Attempt

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
    """The conflicts a batch may decide (monitor/pipeline/analysis.py):

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


def _successful_writes(
    project_id: int, resources: set[str], start: datetime, end: datetime
) -> list[tuple]:
    """(id, client, method, ts, resource) of the 2xx writes to these resources between start
    and end, in (ts, id) order: the race winners' candidates (SQLite)."""
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


def race_winners(project_id: int, losers: list[dict], window: timedelta) -> dict[int, RaceWinner]:
    """{loser id: winner} for the losers (dicts with id, ts, client, resource) that have one:
    the latest successful write (2xx POST/PUT/PATCH/DELETE) by another client to the same
    resource within `window` before the loser (by time, then id). Reads the candidates through
    the `(project, resource, ts)` index, one query for the whole set (SQLite; on Postgres
    `next_writes_and_winners` finds them)."""
    if not losers:
        return {}
    resources = {r["resource"] for r in losers}
    start = min(r["ts"] for r in losers) - window
    end = max(r["ts"] for r in losers)
    candidates = defaultdict(list)
    for cand in _successful_writes(project_id, resources, start, end):
        candidates[cand[4]].append(cand)
    found = {}
    for loser in losers:
        best = None
        for cand_id, client, method, ts, _ in candidates.get(loser["resource"], ()):
            if ts > loser["ts"]:
                break
            if ts >= loser["ts"] - window and client != loser["client"]:
                best = RaceWinner(cand_id, client, method, ts)
        if best is not None:
            found[loser["id"]] = best
    return found


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


class Found(NamedTuple):
    """What next_writes_and_winners found for one conflict (None where nothing)."""

    conflict_id: int
    next_write: Attempt | None
    winner: RaceWinner | None


def next_writes_and_winners(project_id: int, asks: list[Ask]) -> list[Found]:
    """Postgres, one statement for all the conflicts asked about: for each, its next write and
    its race winner.

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
        return [
            Found(
                row[0],
                Attempt(*row[1:7]) if row[1] is not None else None,
                RaceWinner(*row[7:11]) if row[7] is not None else None,
            )
            for row in cursor.fetchall()
        ]


def next_writes(
    project_id: int, conflicts: list[dict], bounds: dict[int, datetime] | None = None
) -> dict[int, Attempt]:
    """{conflict id: the same client's next write to the same resource within the horizon},
    for conflicts given as dicts with id, ts, client and resource. `bounds` may give a time
    by which a conflict's next write is known to have happened (a later write of the same
    client and resource): the lookup stops there.

    On Postgres one LATERAL query walks the (project, resource, ts) index forward from each
    conflict and stops at the first write (`next_writes_and_winners`); on SQLite a correlated
    subquery does the same.
    """
    conflicts = [c for c in conflicts if c["client"] is not None]
    if not conflicts:
        return {}
    bounds = bounds or {}
    if _postgres():
        found = next_writes_and_winners(project_id, next_write_asks(conflicts, bounds))
        return {f.conflict_id: f.next_write for f in found if f.next_write is not None}
    until = [_lookup_until(c, bounds) for c in conflicts]
    return _next_writes_sqlite(project_id, conflicts, until)


def next_write_asks(conflicts: list[dict], bounds: dict[int, datetime]) -> list[Ask]:
    """What `next_writes_and_winners` is asked for these conflicts' next writes (no race
    winners)."""
    return [
        Ask(c["id"], c["ts"], c["client"], c["resource"], _lookup_until(c, bounds), None)
        for c in conflicts
    ]


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
                f"SELECT c.id, (SELECT r.id FROM {_TABLE} r WHERE r.project_id = %s "
                "AND r.resource = c.resource AND r.client = c.client "
                f"AND r.method IN ({_WRITE_METHODS}) "
                "AND r.ts >= c.ts AND r.ts <= c.until AND (r.ts > c.ts OR r.id > c.id) "
                "ORDER BY r.ts, r.id LIMIT 1) FROM c",
                [*params, project_id],
            )
            next_ids.update((cid, nid) for cid, nid in cursor.fetchall() if nid is not None)
    if not next_ids:
        return {}
    rows = {
        row["id"]: Attempt(
            row["id"], row["ts"], row["method"], row["status"], row["if_match"], row["idem"]
        )
        for row in Request.objects.filter(id__in=set(next_ids.values()))
        .annotate(
            if_match=KeyTextTransform("if-match", "request_headers"),
            idem=KeyTextTransform("idempotency-key", "request_headers"),
        )
        .values("id", "ts", "method", "status", "if_match", "idem")
    }
    return {cid: rows[nid] for cid, nid in next_ids.items()}
