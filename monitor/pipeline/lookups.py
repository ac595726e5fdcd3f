"""The raw-row lookups of the conflict analysis (monitor/pipeline/analysis.py): the conflicts a
batch may decide (locked), the same client's next write after a conflict, the race winner
that committed before its answer, and whether its client had used the resource before.

Each runs once per aggregated batch, inside its transaction. On Postgres there are two
statements of raw SQL taking their lists as binary arrays (`= ANY(%b)`, `unnest`;
ingest/prepared.py), so that their text and plan stay the same whatever the batch holds:
`lock_decidable` and `next_writes_and_winners`. Elsewhere (SQLite) the ORM does the same in
a few queries. Every lookup bounds `ts`, which lets Postgres read only the day partitions
concerned.
"""

from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from operator import itemgetter
from typing import NamedTuple

import msgspec
from django.db import connection
from django.db.models import Q
from psycopg.types.json import set_json_loads

from ingest.models import Request
from ingest.prepared import prepared_cursor
from monitor.rules.causes import (
    CONFLICT_STATUSES,
    HISTORY,
    RACE_METHODS,
    SLOWEST_WRITE,
    WRITE_METHODS,
    RaceWinner,
)
from monitor.rules.outcomes import (
    RETRY_EVIDENCE_WINDOW,
    RETRY_HORIZON,
    Attempt,
    attempt,
    is_retry_of,
)

# Causes that a race winner or the client's history may change.
RACING_CAUSES = "('unknown', 'duplicate', 'concurrent_write')"

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
    "request_bytes",
    "query",
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
      is decided again, and stays as it was), and creates (POST) no longer `pending` unless
      the batch holds their retry (same Idempotency-Key, or same size within the evidence
      window): nothing else can change them;
    - stored 409s that a winner may explain on a resource of its successful writes (`won`)
      within `race_span`, which one of those writes may have beaten (or beaten more closely
      than the winner they hold: the answer must not depend on the order batches come in);
    - stored 409s on PUT within `seen_span` by a client to a resource that one of the batch's
      rows shows the same client using within HISTORY before: its history tells a create from
      an update (the batch's rows are read where they are stored, by `batch_id`).
    """

    project_id: int
    batch_id: int
    own: dict[int, datetime]
    writes: dict[tuple[str, str], list[datetime]]
    retry_span: tuple[datetime, datetime] | None
    won: set[str]
    race_span: tuple[datetime, datetime] | None
    seen_span: tuple[datetime, datetime] | None = None

    def bounds(self) -> tuple[datetime, datetime]:
        times = [*self.own.values()]
        for span in (self.retry_span, self.race_span, self.seen_span):
            if span is not None:
                times += span
        return min(times), max(times)


_RACING = ("unknown", "duplicate", "concurrent_write")
# SQLite allows 32,766 parameters per statement since 3.32: conflicts per query there.
_SQLITE_CHUNK = 2000
# Spans that select nothing, for a side of the lookup a batch does not need.
_NOWHERE = (datetime.max.replace(tzinfo=UTC), datetime.min.replace(tzinfo=UTC))

# The candidates are a subquery that OFFSET 0 keeps whole (not merged into the outer query):
# a row that another transaction updated while this one waited for its lock is then checked
# again against its own id only. Merged, Postgres's recheck of each such row ran the candidate
# lookups again, minutes of CPU when a backfill had just decided thousands of conflicts
# (tests/stack/test_backfill_alongside_live.py).
_LOCK_DECIDABLE = f"""
SELECT {", ".join(f"r.{name}" for name in LOCKED_FIELDS)} FROM {_TABLE} r
WHERE r.ts >= %(start)b AND r.ts <= %(end)b AND r.id IN (SELECT id FROM (
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
               OR w.first <= c.ts + c.next_attempt_ms * interval '1 millisecond')
          AND (c.method <> 'POST' OR c.request_headers ? 'idempotency-key'
               OR w.first <= c.ts + %(evidence)b)
          -- A create no longer pending changes only with its retry among the pair's writes.
          AND (c.method <> 'POST' OR c.retry_outcome = 'pending' OR EXISTS (
            SELECT FROM {_TABLE} b
            WHERE b.project_id = %(project)b AND b.resource = c.resource
              AND b.client = c.client AND b.batch_id = %(batch)b AND b.method = 'POST'
              AND b.ts >= greatest(c.ts, w.first) AND b.ts <= least(c.ts + %(horizon)b, w.last)
              AND (b.ts > c.ts OR b.id > c.id)
              AND CASE WHEN c.request_headers ? 'idempotency-key'
                  THEN b.request_headers ->> 'idempotency-key'
                       = c.request_headers ->> 'idempotency-key'
                  ELSE b.request_bytes = c.request_bytes AND b.ts <= c.ts + %(evidence)b END)))
  UNION ALL
    SELECT c.id FROM {_TABLE} c
    WHERE c.project_id = %(project)b AND c.status = 409 AND c.batch_id IS DISTINCT FROM %(batch)b
      AND c.resource = ANY(%(won)b) AND c.ts >= %(race_start)b AND c.ts <= %(race_end)b
      AND c.method IN ({_RACE_METHODS})
      AND (c.cause IS NULL OR c.cause IN {RACING_CAUSES})
  UNION ALL
    SELECT c.id FROM {_TABLE} c
    WHERE c.project_id = %(project)b AND c.status = 409 AND c.batch_id IS DISTINCT FROM %(batch)b
      AND c.method = 'PUT' AND (c.cause IS NULL OR c.cause IN {RACING_CAUSES})
      AND c.ts >= %(seen_start)b AND c.ts <= %(seen_end)b
      AND EXISTS (
        SELECT FROM {_TABLE} b
        WHERE b.project_id = %(project)b AND b.resource = c.resource AND b.client = c.client
          AND b.batch_id = %(batch)b AND b.ts >= c.ts - %(history)b AND b.ts < c.ts)
) AS candidates(id) OFFSET 0)
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
        seen_start, seen_end = d.seen_span or _NOWHERE
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
                    "seen_start": seen_start,
                    "seen_end": seen_end,
                    "history": HISTORY,
                    "evidence": RETRY_EVIDENCE_WINDOW,
                    "horizon": RETRY_HORIZON,
                },
            )
            open_cursor = stack.pop_all()

        def read() -> list[dict]:
            with open_cursor:
                return [dict(zip(LOCKED_FIELDS, row, strict=True)) for row in cursor.fetchall()]

        return read
    ids = set(d.own) | _retry_candidates(d) | _race_candidates(d) | _seen_candidates(d)
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
    creates = None
    for cid, ts, client, resource, next_ms, method, headers, outcome, size in (
        _stored(d)
        .filter(
            resource__in={resource for _, resource in d.writes},
            client__in={client for client, _ in d.writes},
            ts__gte=d.retry_span[0],
            ts__lte=d.retry_span[1],
        )
        .values_list(
            "id",
            "ts",
            "client",
            "resource",
            "next_attempt_ms",
            "method",
            "request_headers",
            "retry_outcome",
            "request_bytes",
        )
    ):
        times = d.writes.get((client, resource))
        if not times or times[-1] <= ts:
            continue
        if next_ms is not None and ts + timedelta(milliseconds=next_ms) < times[0]:
            continue  # decided by a write before anything this batch brings
        if _unkeyed_create(method, headers) and times[0] > ts + RETRY_EVIDENCE_WINDOW:
            continue  # a create without a key is retried within the evidence window only
        if method == "POST" and outcome != "pending":
            # A create that is no longer pending changes only with a retry in the batch.
            if creates is None:
                creates = _batch_creates(d.batch_id)
            conflict = Attempt(
                cid, ts, method, 0, None, (headers or {}).get("idempotency-key"), size
            )
            retry = creates.get((client, resource), PairWrites([])).first_retry(
                conflict, ts + RETRY_HORIZON
            )
            if retry is None:
                continue
        found.add(cid)
    return found


def _batch_creates(batch_id: int) -> dict[tuple[str, str], "PairWrites"]:
    """The POSTs of a batch by client and resource (SQLite)."""
    pairs = defaultdict(list)
    for row in (
        Request.objects.filter(batch_id=batch_id, method="POST")
        .order_by("ts", "id")
        .values(*_NEXT_FIELDS, "client", "resource")
    ):
        pairs[(row.pop("client"), row.pop("resource"))].append(row)
    return {pair: PairWrites(rows) for pair, rows in pairs.items()}


def _race_candidates(d: Decidable) -> set[int]:
    if d.race_span is None or not d.won:
        return set()
    return set(
        _stored(d)
        .filter(
            Q(cause__isnull=True) | Q(cause__in=_RACING),
            resource__in=d.won,
            ts__gte=d.race_span[0],
            ts__lte=d.race_span[1],
            status=409,
            method__in=RACE_METHODS,
        )
        .values_list("id", flat=True)
    )


def _seen_candidates(d: Decidable) -> set[int]:
    if d.seen_span is None:
        return set()
    conflicts = list(
        _stored(d)
        .filter(
            Q(cause__isnull=True) | Q(cause__in=_RACING),
            client__isnull=False,
            ts__gte=d.seen_span[0],
            ts__lte=d.seen_span[1],
            status=409,
            method="PUT",
        )
        .values_list("id", "ts", "client", "resource")
    )
    if not conflicts:
        return set()
    used = defaultdict(list)
    for client, resource, ts in Request.objects.filter(
        batch_id=d.batch_id,
        client__in={c[2] for c in conflicts},
        resource__in={c[3] for c in conflicts},
    ).values_list("client", "resource", "ts"):
        used[(client, resource)].append(ts)
    return {
        cid
        for cid, ts, client, resource in conflicts
        if any(ts - HISTORY <= t < ts for t in used[(client, resource)])
    }


def _successful_writes(
    project_id: int, resources: set[str], start: datetime, end: datetime
) -> list[tuple]:
    """(id, client, method, ts, status, duration_ms, resource) of the 2xx writes to these
    resources that started between start and end: the race winners' candidates (SQLite)."""
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
        .values_list("id", "client", "method", "ts", "status", "duration_ms", "resource")
    )


def ended(ts: datetime, duration_ms: float | None) -> datetime:
    """When a request ended (its answer): its start plus its duration, when logged."""
    return ts + timedelta(milliseconds=duration_ms or 0.0)


def winner_order(end: datetime, ts: datetime, client: str | None, method: str, id_: int):
    """The order among a loser's candidates, last wins: the latest to commit, then the latest
    to start; equal times by client and method (the same whatever order the rows were stored
    in), the id last."""
    return (end, ts, client or "", method, id_)


def race_winners(project_id: int, losers: list[dict], window: timedelta) -> dict[int, RaceWinner]:
    """{loser id: winner} for the losers (dicts with id, ts, duration_ms, client, resource)
    that have one: the successful write (2xx POST/PUT/PATCH/DELETE) by another client to the
    same resource that ended last within `window` before the loser's answer and no later than
    it (winner_order). Reads the candidates through the `(project, resource, ts)` index, one
    query for the whole set (SQLite; on Postgres `next_writes_and_winners` finds them)."""
    if not losers:
        return {}
    resources = {r["resource"] for r in losers}
    start = min(r["ts"] for r in losers) - window - SLOWEST_WRITE
    end = max(ended(r["ts"], r["duration_ms"]) for r in losers)
    writes = defaultdict(list)
    for cand in _successful_writes(project_id, resources, start, end):
        writes[cand[6]].append(cand)
    candidates = {resource: WinnerCandidates(rows) for resource, rows in writes.items()}
    found = {}
    for loser in losers:
        best = _best_winner(
            loser["client"],
            loser["ts"] - window,
            ended(loser["ts"], loser["duration_ms"]),
            candidates.get(loser["resource"], NO_CANDIDATES),
        )
        if best is not None:
            found[loser["id"]] = best
    return found


class WinnerCandidates:
    """A resource's successful writes (id, client, method, ts, status, duration_ms, …) in order
    of start, so that each loser reads those that started in its own span (by bisection), not
    every write of the span read for all the losers: on a resource with thousands of writes
    in an hour, that read was most of a batch's aggregation."""

    def __init__(self, rows):
        self.rows = sorted(rows, key=itemgetter(3, 0))

    def started(self, first: datetime, last: datetime) -> list:
        """The writes that started from `first` up to `last`."""
        start = itemgetter(3)
        return self.rows[
            bisect_left(self.rows, first, key=start) : bisect_right(self.rows, last, key=start)
        ]


NO_CANDIDATES = WinnerCandidates([])


def _best_winner(
    client: str | None, since: datetime, answer: datetime, candidates: WinnerCandidates
) -> RaceWinner | None:
    """Of the candidates, the write by another client that started at most SLOWEST_WRITE
    before `since` and ended last from `since` up to `answer` (winner_order), or None. A
    write that started after `answer` ended after it (durations are never negative)."""
    best = None
    for cand_id, other, method, ts, status, duration, *_ in candidates.started(
        since - SLOWEST_WRITE, answer
    ):
        done = ended(ts, duration)
        if other == client or not since <= done <= answer:
            continue
        order = winner_order(done, ts, other, method, cand_id)
        if best is None or order > best[0]:
            best = (order, RaceWinner(cand_id, other, method, ts, status))
    return best[1] if best is not None else None


def seen_before(project_id: int, conflicts: list[dict]) -> dict[int, bool]:
    """{conflict id: whether its client sent any request to its resource within HISTORY
    before it} (SQLite, one query per chunk; on Postgres `next_writes_and_winners` answers)."""
    found = {c["id"]: False for c in conflicts}
    conflicts = [c for c in conflicts if c["client"] is not None]
    for start in range(0, len(conflicts), _SQLITE_CHUNK):
        chunk = conflicts[start : start + _SQLITE_CHUNK]
        times = defaultdict(list)
        for client, resource, ts in Request.objects.filter(
            project_id=project_id,
            resource__in={c["resource"] for c in chunk},
            client__in={c["client"] for c in chunk},
            ts__gte=min(c["ts"] for c in chunk) - HISTORY,
            ts__lt=max(c["ts"] for c in chunk),
        ).values_list("client", "resource", "ts"):
            times[(client, resource)].append(ts)
        for pair_times in times.values():
            pair_times.sort()
        for c in chunk:
            found[c["id"]] = any_between(
                times[(c["client"], c["resource"])], c["ts"] - HISTORY, c["ts"]
            )
    return found


def any_between(times: list[datetime], since: datetime, before: datetime) -> bool:
    """Whether the sorted `times` hold one from `since` up to `before` (excluded)."""
    first = bisect_left(times, since)
    return first < len(times) and times[first] < before


# The rows that may answer the asks, read per resource over merged spans through the
# (project, resource, ts) index and of the day partitions concerned: the asking clients'
# writes (next writes, kind 'n'), their POSTs that may retry a create (the Idempotency-Key or
# the request size of one of the creates asked about, 'p'), the successful writes of any
# client (race winners, 'w') and any request of the asking clients (history, 'h'). Python
# picks each ask's answer by the rules the SQLite lookups apply; overlapping lookups read each
# row once.
_CANDIDATES = f"""
SELECT s.kind, r.id, r.ts, r.client, r.method, r.status, r.duration_ms, r.request_bytes,
       r.headers, r.query, s.resource
FROM unnest(%(kinds)b::text[], %(resources)b::text[], %(starts)b::timestamptz[],
            %(stops)b::timestamptz[]) AS s(kind, resource, start, stop)
CROSS JOIN LATERAL (
    SELECT r.id, r.ts, r.client, r.method, r.status, r.duration_ms, r.request_bytes,
           CASE WHEN s.kind IN ('n', 'p') THEN r.request_headers END AS headers,
           CASE WHEN s.kind IN ('n', 'p') THEN r.query END AS query
    FROM {_TABLE} r
    WHERE r.project_id = %(project)b AND r.resource = s.resource
      AND r.ts >= s.start AND r.ts <= s.stop
      AND CASE s.kind
          WHEN 'n' THEN r.client = ANY(%(clients)b) AND r.method IN ({_WRITE_METHODS})
          WHEN 'p' THEN r.client = ANY(%(clients)b) AND r.method = 'POST'
              AND (r.request_headers ->> 'idempotency-key' = ANY(%(keys)b)
                   OR r.request_bytes = ANY(%(sizes)b))
          WHEN 'w' THEN r.status >= 200 AND r.status < 300 AND r.method IN ({_WRITE_METHODS})
          ELSE r.client = ANY(%(clients)b) END
) AS r
"""


@dataclass(frozen=True)
class Ask:
    """What to look up for one conflict: its next write up to `until`, its race winner from
    `since` up to `answer` (None: not wanted), whether its client used the resource since
    `history` (None: not wanted). `method`, `key` and `bytes` tell a create's retry."""

    id: int
    ts: datetime
    client: str | None
    resource: str
    until: datetime | None
    since: datetime | None = None
    answer: datetime | None = None
    history: datetime | None = None
    method: str = ""
    key: str | None = None
    bytes: int | None = None


class Found(NamedTuple):
    """What next_writes_and_winners found for one conflict (None where nothing; `seen` is
    None when not asked)."""

    conflict_id: int
    next_write: dict | None
    winner: RaceWinner | None
    seen: bool | None = None


_NEXT_FIELDS = ("id", "ts", "method", "status", "request_headers", "query", "request_bytes")


def next_writes_and_winners(project_id: int, asks: list[Ask]) -> list[Found]:
    """Postgres, one statement for all the conflicts asked about: for each, its next write
    (as a row dict), its race winner and whether its client used the resource before.

    The next write is the same client's first write (by time, then id) to the resource after
    the conflict, up to `until` (for a create, the first that is its retry). The race winner
    is the successful write by another client to the resource that ended last from `since`
    up to the conflict's answer (winner_order)."""
    spans = _spans(asks)
    writes: dict[tuple[str, str], dict[int, dict]] = defaultdict(dict)
    winners: dict[str, list[tuple]] = defaultdict(list)
    used: dict[tuple[str, str], list[datetime]] = defaultdict(list)
    if spans:
        with prepared_cursor() as cursor:
            set_json_loads(msgspec.json.decode, cursor)
            cursor.execute(
                _CANDIDATES,
                {
                    **spans,
                    "project": project_id,
                    "clients": sorted({a.client for a in asks if a.client is not None}),
                    "keys": sorted({a.key for a in asks if a.key is not None}),
                    "sizes": sorted({a.bytes for a in asks if a.bytes is not None}),
                },
            )
            rows = cursor.fetchall()
        for kind, id_, ts, client, method, status, duration, size, headers, query, res in rows:
            if kind in ("n", "p"):
                writes[(client, res)][id_] = {
                    "id": id_,
                    "ts": ts,
                    "method": method,
                    "status": status,
                    "request_headers": headers,
                    "query": query,
                    "request_bytes": size,
                }
            elif kind == "w":
                winners[res].append((id_, client, method, ts, status, duration))
            else:
                used[(client, res)].append(ts)
    by_pair = {
        pair: PairWrites(sorted(rows_of_pair.values(), key=itemgetter("ts", "id")))
        for pair, rows_of_pair in writes.items()
    }
    candidates = {resource: WinnerCandidates(rows) for resource, rows in winners.items()}
    for times in used.values():
        times.sort()
    empty = PairWrites([])
    found = []
    for a in asks:
        pair = (a.client, a.resource)
        nxt = None
        if a.until is not None and a.client is not None:
            conflict = Attempt(a.id, a.ts, a.method, 0, None, a.key, a.bytes)
            nxt = by_pair.get(pair, empty).first_retry(conflict, a.until)
        winner = None
        if a.since is not None:
            winner = _best_winner(
                a.client, a.since, a.answer, candidates.get(a.resource, NO_CANDIDATES)
            )
        seen = None
        if a.history is not None:
            seen = any_between(used.get(pair, []), a.history, a.ts)
        found.append(Found(a.id, nxt, winner, seen))
    return found


def _spans(asks: list[Ask]) -> dict[str, list] | None:
    """The spans `_CANDIDATES` reads (kinds, resources, starts, stops), overlapping ones of a
    kind and resource merged into one; None when no ask needs a row."""
    wanted: dict[tuple[str, str], list[tuple[datetime, datetime]]] = defaultdict(list)
    for a in asks:
        if a.until is not None and a.client is not None:
            # A create is retried by a POST of the same key or size only (PairWrites).
            wanted[("p" if a.method == "POST" else "n", a.resource)].append((a.ts, a.until))
        if a.since is not None:
            wanted[("w", a.resource)].append((a.since - SLOWEST_WRITE, a.answer))
        if a.history is not None and a.client is not None:
            wanted[("h", a.resource)].append((a.history, a.ts))
    columns: dict[str, list] = {"kinds": [], "resources": [], "starts": [], "stops": []}
    for (kind, resource), spans in wanted.items():
        spans.sort()
        merged = [list(spans[0])]
        for begin, stop in spans[1:]:
            if begin <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], stop)
            else:
                merged.append([begin, stop])
        for begin, stop in merged:
            columns["kinds"].append(kind)
            columns["resources"].append(resource)
            columns["starts"].append(begin)
            columns["stops"].append(stop)
    return columns if columns["kinds"] else None


def next_writes(
    project_id: int, conflicts: list[dict], bounds: dict[int, datetime] | None = None
) -> dict[int, dict]:
    """{conflict id: the same client's next write to the same resource within the horizon}
    (a row dict: id, ts, method, status, request_headers, query, request_bytes), for
    conflicts given as row dicts (id, ts, method, client, resource, request_headers,
    request_bytes). `bounds` may give a time by which a conflict's next write is known to have
    happened (a later write of the same client and resource): the lookup stops there.

    On Postgres one statement reads the candidate writes of every conflict's span through the
    (project, resource, ts) index (`next_writes_and_winners`); on SQLite a query per chunk of
    conflicts does; either way `PairWrites.first_retry` picks each one's next write.
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
        Ask(
            c["id"],
            c["ts"],
            c["client"],
            c["resource"],
            _lookup_until(c, bounds),
            method=c["method"],
            key=(c.get("request_headers") or {}).get("idempotency-key"),
            bytes=c.get("request_bytes"),
        )
        for c in conflicts
    ]


def _unkeyed_create(method: str, headers: dict | None) -> bool:
    return method == "POST" and "idempotency-key" not in (headers or {})


def _lookup_until(conflict: dict, bounds: dict[int, datetime]) -> datetime:
    """How far the next write of a conflict is looked for. A create's retry may come after a
    later unrelated create, so the batch's next write is no bound for it; without an
    Idempotency-Key it is retried within the evidence window or not at all."""
    horizon = conflict["ts"] + RETRY_HORIZON
    if _unkeyed_create(conflict["method"], conflict.get("request_headers")):
        return conflict["ts"] + RETRY_EVIDENCE_WINDOW
    if conflict["method"] == "POST":
        return horizon
    return min(bounds.get(conflict["id"], horizon), horizon)


def _next_writes_sqlite(
    project_id: int, conflicts: list[dict], until: list[datetime]
) -> dict[int, dict]:
    """One query per chunk of conflicts: the writes of their clients to their resources in
    the span they are looked for in, read in (ts, id) order through the (project, resource,
    ts) index; for each conflict the first after it that may be its next attempt
    (outcomes.is_retry_of)."""
    found: dict[int, dict] = {}
    pairs = list(zip(conflicts, until, strict=True))
    for start in range(0, len(pairs), _SQLITE_CHUNK):
        chunk = pairs[start : start + _SQLITE_CHUNK]
        writes = defaultdict(list)
        for row in (
            Request.objects.filter(
                project_id=project_id,
                resource__in={c["resource"] for c, _ in chunk},
                client__in={c["client"] for c, _ in chunk},
                method__in=WRITE_METHODS,
                ts__gte=min(c["ts"] for c, _ in chunk),
                ts__lte=max(last for _, last in chunk),
            )
            .order_by("ts", "id")
            .values(*_NEXT_FIELDS, "client", "resource")
        ):
            writes[(row.pop("client"), row.pop("resource"))].append(row)
        pairs_writes = {pair: PairWrites(rows) for pair, rows in writes.items()}
        empty = PairWrites([])
        for c, last in chunk:
            row = pairs_writes.get((c["client"], c["resource"]), empty).first_retry(
                attempt(c), last
            )
            if row is not None:
                found[c["id"]] = row
    return found


class PairWrites:
    """The writes of one client to one resource, as row dicts in (ts, id) order, with their
    POSTs by Idempotency-Key and by request size: the only writes that may retry a create."""

    def __init__(self, rows: list[dict]):
        self.rows = rows
        self.by_key: dict[str, list[dict]] = defaultdict(list)
        self.by_size: dict[int, list[dict]] = defaultdict(list)
        for row in rows:
            if row["method"] == "POST":
                key = (row["request_headers"] or {}).get("idempotency-key")
                if key is not None:
                    self.by_key[key].append(row)
                self.by_size[row["request_bytes"]].append(row)

    def first_retry(self, conflict: Attempt, until: datetime) -> dict | None:
        """The first write after the conflict up to `until` that may be its next attempt
        (outcomes.is_retry_of), looked for among those that can be."""
        if conflict.method != "POST":
            writes = self.rows
        elif conflict.idempotency_key is not None:
            writes = self.by_key.get(conflict.idempotency_key, [])
        else:
            writes = self.by_size.get(conflict.request_bytes, [])
        for row in writes[bisect_left(writes, conflict.ts, key=itemgetter("ts")) :]:
            if row["ts"] == conflict.ts and row["id"] <= conflict.id:
                continue
            if row["ts"] > until:
                break
            if is_retry_of(conflict, attempt(row)):
                return row
        return None
