"""Conflict analysis of one batch, inside its aggregation transaction.

For the batch's own conflicts: the cause (monitor/conflicts.py), the race winner
(monitor/races.py) and the retry outcome (monitor/outcomes.py). For conflicts already stored
by earlier batches, what this batch's writes decide: a late race winner turns an `unknown` 409
into a `concurrent_write` (or links a create-only PUT to the write that beat it), and a write
of the same client may be the next attempt after a stored conflict. Changes to stored
conflicts move their rollup counts (-1 from the old key, +1 to the new) in the same
transaction, so rollups stay equal to the rows.

Locking (docs/architecture.md, "Conflict analysis"): every conflict row that the batch may
write is locked in one statement, in id order, before anything is read to decide it; the
reads that decide come after the lock, so they see the rows of every batch that committed
before. Two workers holding the two sides of a race thus serialize on the loser's row, and
whichever decides second sees the other's rows.
"""

from bisect import bisect_right
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import partial

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from ingest.models import Request
from ingest.prepared import pipeline
from monitor import conflict_lookups
from monitor.conflict_lookups import LOCKED_FIELDS, Ask, Decidable
from monitor.conflicts import (
    CONFLICT_STATUSES,
    WRITE_METHODS,
    RaceWinner,
    Verdict,
    classify,
    links_winner,
    project_phrases,
)
from monitor.models import OutcomeRollup, Project
from monitor.outcomes import (
    RETRY_HORIZON,
    Attempt,
    Outcome,
    attempt,
    decide,
    next_attempts,
    next_write_asks,
    next_writes,
)
from monitor.races import race_winners

# Client rollup value columns, in monitor/rollups.py order.
REQUESTS, CONFLICTS, SUFFERED, CAUSED = 0, 1, 2, 3
WRITES, CONDITIONAL, WEAK, CREATES, CREATES_WITHOUT_KEY = 4, 5, 6, 7, 8
CLIENT_VALUES = 9

UPDATE_COLUMNS = (
    "cause",
    "cause_reason",
    "race_winner_id",
    "retry_outcome",
    "resolved_after_ms",
    "next_attempt_ms",
)


# Tables whose counts move between keys; a key moved away from can be left at zero.
MOVING = (
    "monitor_rollup_outcome_minute",
    "monitor_rollup_resource_minute",
    "monitor_rollup_status_minute",
)
# The order in which every transaction writes the rollup tables (one lock order for all
# workers). The conflict-analysis tables come first: in a pipeline Postgres writes them while
# the larger status, latency and client counts are still being sent.
WRITE_ORDER = (
    "monitor_rollup_outcome_minute",
    "monitor_rollup_race_minute",
    "monitor_rollup_resource_minute",
    "monitor_rollup_client_minute",
    "monitor_rollup_status_minute",
    "monitor_rollup_latency_minute",
)


@dataclass
class Counts:
    """What one transaction writes: rollup counts ({table: {key: values}}) and the analysis
    columns of stored requests (`requests`: rows for ingest.storage.update_requests)."""

    project_id: int
    tables: dict[str, dict[tuple, list]] = field(default_factory=dict)
    requests: list[tuple] = field(default_factory=list)

    def write(self) -> None:
        """Both writes below, as one pipeline on Postgres (no wait for each statement)."""
        with pipeline():
            self.write_requests()
            self.write_rollups()

    def write_requests(self) -> None:
        """Set the requests' analysis columns."""
        from ingest.storage import update_requests

        update_requests(UPDATE_COLUMNS, self.requests)

    def write_rollups(self) -> None:
        """Add every table's counts, each followed by dropping the rows that moves emptied
        (tables in WRITE_ORDER, keys sorted: one lock order for all workers)."""
        from monitor import rollups

        for table in sorted(self.tables, key=WRITE_ORDER.index):
            counts = self.tables[table]
            rollups.add(table, counts)
            if table in MOVING:
                rollups.drop_empty(table, [k for k, v in counts.items() if v[0] < 0])

    def bump(self, table: str, key: tuple, values: tuple) -> None:
        acc = self.tables.setdefault(table, {}).get(key)
        if acc is None:
            self.tables[table][key] = list(values)
            return
        for i, v in enumerate(values):
            acc[i] += v

    def client(self, minute: datetime, endpoint_id: int, client: str | None, col: int, n=1):
        values = [0] * CLIENT_VALUES
        values[col] = n
        key = (self.project_id, minute, endpoint_id, client or "")
        self.bump("monitor_rollup_client_minute", key, tuple(values))


def minute_of(ts: datetime) -> datetime:
    return ts.replace(second=0, microsecond=0)


def sent_precondition(headers: dict) -> bool:
    return "if-match" in headers or "if-unmodified-since" in headers


@dataclass
class Decision:
    """What a conflict row should hold after this batch."""

    cause: str
    reason: str
    winner: RaceWinner | None
    outcome: Outcome | None


def analyse(
    project: Project, batch_id: int, rows: list[dict], now: datetime
) -> Callable[[Counts], dict[int, str]]:
    """Start the analysis of a batch: lock the conflicts it may decide (on Postgres the lock is
    sent now and runs while the caller goes on, inside a pipeline). Returns the function that
    finishes it: it decides the batch's conflicts and the stored ones its writes affect, puts
    what changes on their rows and the rollup counts that depend on them into the Counts it is
    given, and returns {own conflict id: cause} for the status rollup of the batch's rows."""
    decidable = _decidable(project, batch_id, rows, now)
    if decidable is None:
        return lambda counts: {}
    read_locked = conflict_lookups.lock_decidable(decidable)
    return partial(_decide, project, decidable, read_locked, now)


def _decide(
    project: Project,
    decidable: Decidable,
    read_locked: Callable[[], list[dict]],
    now: datetime,
    counts: Counts,
) -> dict[int, str]:
    own_times, write_times = decidable.own, decidable.writes
    locked = read_locked()
    own = [r for r in locked if r["id"] in own_times]
    # A stored conflict without a cause belongs to a batch not aggregated yet: that batch
    # decides it, and will see this batch's rows when it does.
    stored = [r for r in locked if r["id"] not in own_times and r["cause"] is not None]

    decisions = decide_all(project, own, stored, now, write_times)
    updates = counts.requests
    for row in own:
        d = decisions[row["id"]]
        updates.append(_update_row(row, d))
        _count(counts, row, d.cause, d.outcome, +1)
        if d.winner is not None:
            _count_race(counts, row, d.winner)
    for row in stored:
        d = decisions[row["id"]]
        old_outcome = row["retry_outcome"]
        old_ms = row["resolved_after_ms"]
        new_outcome = d.outcome.outcome if d.outcome else old_outcome
        new_ms = d.outcome.resolved_after_ms if d.outcome else old_ms
        new_winner = d.winner is not None and row["race_winner_id"] is None
        new_next = d.outcome.next_after_ms if d.outcome else row["next_attempt_ms"]
        unchanged = (
            d.cause == row["cause"]
            and new_outcome == old_outcome
            and new_ms == old_ms
            and new_next == row["next_attempt_ms"]
        )
        if unchanged and not new_winner:
            continue
        updates.append(_update_row(row, d, keep=row))
        _move(counts, row, row["cause"], old_outcome, old_ms, -1)
        _move(counts, row, d.cause, new_outcome, new_ms, +1)
        if d.cause != row["cause"]:
            _status_move(counts, row, row["cause"], d.cause)
        if new_winner:
            _count_race(counts, row, d.winner)
    return {row["id"]: decisions[row["id"]].cause for row in own}


def writes_by_pair(writes: list[dict]) -> dict[tuple[str, str], list[datetime]]:
    """The write times per (client, resource), sorted."""
    pairs: dict[tuple[str, str], list[datetime]] = {}
    for r in writes:
        if r["client"] is not None:
            pairs.setdefault((r["client"], r["resource"]), []).append(r["ts"])
    for times in pairs.values():
        times.sort()
    return pairs


def _decidable(
    project: Project, batch_id: int, rows: list[dict], now: datetime
) -> Decidable | None:
    """What the batch may decide (conflict_lookups.Decidable), or None when nothing: its own
    conflicts; stored ones of the same client and resource up to RETRY_HORIZON before one of
    its writes (the write may be their next attempt); unlinked 409s on a resource up to the
    race window after one of its successful writes (it may be their race winner). Conflicts
    older than the raw retention are final."""
    own_times = {r["id"]: r["ts"] for r in rows if r["status"] in CONFLICT_STATUSES}
    writes = [r for r in rows if r["method"] in WRITE_METHODS]
    write_times = writes_by_pair(writes)
    oldest = now - timedelta(days=settings.CONFLICTWATCH_RAW_RETENTION_DAYS)
    retry_span = race_span = None
    if write_times:
        times = [r["ts"] for r in writes]
        retry_span = (max(oldest, min(times) - RETRY_HORIZON), max(times))
    wins = [r for r in writes if 200 <= r["status"] < 300]
    won = {r["resource"] for r in wins}
    if wins:
        times = [r["ts"] for r in wins]
        race_span = (max(oldest, min(times)), max(times) + project.race_window)
    if not own_times and retry_span is None and race_span is None:
        return None
    return Decidable(project.id, batch_id, own_times, write_times, retry_span, won, race_span)


def decide_all(
    project: Project,
    own: list[dict],
    stored: list[dict],
    now: datetime,
    write_times: dict[tuple[str, str], list[datetime]],
) -> dict[int, Decision]:
    """Cause, winner and outcome of the batch's conflicts; for stored ones, the cause and
    winner only when a winner is newly found (else their own), and their outcome."""
    phrases = project_phrases(project.conflict_phrases)
    decisions: dict[int, Decision] = {}
    for row in own:
        v = _classify(row, phrases)
        decisions[row["id"]] = Decision(v.cause, v.reason, None, None)
    for row in stored:
        decisions[row["id"]] = Decision(row["cause"], row["cause_reason"], None, None)
    racing = [
        r for r in own if links_winner(decisions[r["id"]].cause, r["method"], r["status"])
    ] + [
        r
        for r in stored
        if r["race_winner_id"] is None and links_winner(r["cause"], r["method"], r["status"])
    ]
    tracked = [r for r in own + stored if r["client"] is not None]
    bounds = _next_write_bounds(tracked, write_times)
    following, winners = _next_writes_and_winners(project, tracked, bounds, racing)
    by_id = {r["id"]: r for r in racing}
    for loser_id, winner in winners.items():
        v = _classify(by_id[loser_id], phrases, winner)
        decisions[loser_id] = Decision(v.cause, v.reason, winner, None)
    for row in tracked:
        decisions[row["id"]].outcome = decide(attempt(row), following.get(row["id"]), now)
    return decisions


def _next_writes_and_winners(
    project: Project, tracked: list[dict], bounds: dict[int, datetime], racing: list[dict]
) -> tuple[dict[int, Attempt], dict[int, RaceWinner]]:
    """The next writes of the tracked conflicts (outcomes.next_writes) and the race winners of
    the racing ones (races.race_winners): on Postgres in one statement."""
    window = project.race_window
    if connection.vendor != "postgresql":
        return next_writes(project.id, tracked, bounds), race_winners(project, racing, window)
    asks = {ask.id: ask for ask in next_write_asks(tracked, bounds)}
    for r in racing:
        since = r["ts"] - window
        ask = asks.get(r["id"])
        if ask is None:
            asks[r["id"]] = Ask(r["id"], r["ts"], r["client"], r["resource"], None, since)
        else:
            asks[r["id"]] = replace(ask, since=since)
    if not asks:
        return {}, {}
    rows = conflict_lookups.next_writes_and_winners(project.id, list(asks.values()))
    winners = {row[0]: RaceWinner(*row[7:11]) for row in rows if row[7] is not None}
    return next_attempts(rows), winners


def _next_write_bounds(
    conflicts: list[dict], write_times: dict[tuple[str, str], list[datetime]]
) -> dict[int, datetime]:
    """{conflict id: the time of this batch's first write by its client to its resource after
    it}: its next write is that one or an earlier stored one, so the lookup stops there."""
    bounds = {}
    for row in conflicts:
        times = write_times.get((row["client"], row["resource"]))
        if times and times[-1] > row["ts"]:
            bounds[row["id"]] = times[bisect_right(times, row["ts"])]
    return bounds


def _classify(row: dict, phrases: dict, winner: RaceWinner | None = None) -> Verdict:
    return classify(
        method=row["method"],
        status=row["status"],
        request_headers=row["request_headers"],
        response_headers=row["response_headers"],
        body=row["response_body"],
        winner=winner,
        resource=row["resource"],
        phrases=phrases,
    )


def _update_row(row: dict, d: Decision, keep: dict | None = None) -> tuple:
    winner_id = d.winner.id if d.winner else (keep["race_winner_id"] if keep else None)
    if d.outcome is not None:
        o = d.outcome
        outcome, ms, next_ms = o.outcome, o.resolved_after_ms, o.next_after_ms
    else:
        outcome = keep["retry_outcome"] if keep else None
        ms = keep["resolved_after_ms"] if keep else None
        next_ms = keep["next_attempt_ms"] if keep else None
    return (row["id"], row["ts"], d.cause, d.reason, winner_id, outcome, ms, next_ms)


def _count(counts: Counts, row: dict, cause: str, outcome: Outcome | None, sign: int) -> None:
    _move(
        counts,
        row,
        cause,
        outcome.outcome if outcome else None,
        outcome.resolved_after_ms if outcome else None,
        sign,
    )


def _move(counts: Counts, row: dict, cause: str, outcome, resolved_ms, sign: int) -> None:
    """Count (sign +1) or uncount (-1) a conflict under a cause and an outcome."""
    p = counts.project_id
    minute = minute_of(row["ts"])
    counts.bump(
        "monitor_rollup_outcome_minute",
        (p, minute, row["endpoint_id"], row["client"] or "", cause, outcome or ""),
        (sign, sign * (resolved_ms or 0.0)),
    )
    counts.bump(
        "monitor_rollup_resource_minute",
        (p, minute, row["endpoint_id"], row["resource"], cause),
        (sign,),
    )


def _status_move(counts: Counts, row: dict, old: str, new: str) -> None:
    """Move a stored conflict between causes in the status rollup."""
    minute = minute_of(row["ts"])
    duration = row["duration_ms"] or 0.0
    write = 1 if row["method"] in WRITE_METHODS else 0
    conditional = 1 if write and sent_precondition(row["request_headers"]) else 0
    for cause, sign in ((old, -1), (new, +1)):
        counts.bump(
            "monitor_rollup_status_minute",
            (counts.project_id, minute, row["endpoint_id"], row["status"], cause),
            (sign, sign * duration, sign * write, sign * conditional),
        )


def _count_race(counts: Counts, row: dict, winner: RaceWinner) -> None:
    """The loser suffered a conflict that the winner's client caused."""
    minute = minute_of(row["ts"])
    counts.client(minute, row["endpoint_id"], row["client"], SUFFERED)
    counts.client(minute, row["endpoint_id"], winner.client, CAUSED)
    counts.bump(
        "monitor_rollup_race_minute",
        (counts.project_id, row["resource"], minute, winner.client or "", row["client"] or ""),
        (1,),
    )


FINALIZE_LIMIT = 5000


def finalize_pending(now: datetime | None = None, limit: int = FINALIZE_LIMIT) -> int:
    """Decide conflicts still `pending` whose retry horizon has passed (beat, every minute):
    `abandoned`, or the outcome of a next write stored but not aggregated yet. Rows that an
    aggregation holds right now are skipped (it decides them). Returns how many changed."""
    now = now or timezone.now()
    with transaction.atomic():
        by_project = _pending_conflicts(now - RETRY_HORIZON, limit)
        changed = 0
        for project_id, group in sorted(by_project.items()):
            counts = Counts(project_id)
            following = next_writes(project_id, group)
            for row in group:
                o = decide(attempt(row), following.get(row["id"]), now)
                if o.outcome == "pending":
                    continue
                counts.requests.append(
                    (
                        row["id"],
                        row["ts"],
                        row["cause"],
                        row["cause_reason"],
                        row["race_winner_id"],
                        o.outcome,
                        o.resolved_after_ms,
                        o.next_after_ms,
                    )
                )
                _move(counts, row, row["cause"], "pending", None, -1)
                _move(counts, row, row["cause"], o.outcome, o.resolved_after_ms, +1)
            counts.write()
            changed += len(counts.requests)
    return changed


def _pending_conflicts(cutoff: datetime, limit: int) -> dict[int, list[dict]]:
    """{project id: conflicts still `pending` at or before `cutoff`}, locked, up to `limit`.

    The raw table has no index on `retry_outcome` (ingest/models.py), so the outcome rollup
    says which minutes of which projects hold pending conflicts, and those minutes are read
    through the conflict index."""
    minutes: dict[int, list[datetime]] = defaultdict(list)
    for project_id, minute in (
        OutcomeRollup.objects.filter(outcome="pending", n__gt=0, minute__lte=cutoff)
        .values_list("project_id", "minute")
        .distinct()
        .order_by("minute", "project_id")[:limit]
    ):
        minutes[project_id].append(minute)
    found: dict[int, list[dict]] = {}
    left = limit
    for project_id, starts in sorted(minutes.items()):
        if left <= 0:
            break
        spans = Q()
        for start, end in _runs(starts, timedelta(minutes=1)):
            spans |= Q(ts__gte=start, ts__lt=end)
        rows = list(
            Request.objects.filter(
                spans,
                project_id=project_id,
                status__in=CONFLICT_STATUSES,
                retry_outcome="pending",
                ts__lte=cutoff,
            )
            .order_by("id")
            .select_for_update(skip_locked=True, no_key=True)
            .values(*LOCKED_FIELDS)[:left]
        )
        if rows:
            found[project_id] = rows
            left -= len(rows)
    return found


def _runs(starts: list[datetime], width: timedelta) -> list[tuple[datetime, datetime]]:
    """Sorted bucket starts as (start, end) spans, adjacent buckets joined."""
    runs: list[list[datetime]] = []
    for start in starts:
        if runs and runs[-1][1] == start:
            runs[-1][1] = start + width
        else:
            runs.append([start, start + width])
    return [(start, end) for start, end in runs]
