"""Conflict analysis of one batch, inside its aggregation transaction.

For the batch's own conflicts: the cause (monitor/rules/causes.py), the race winner and the
client's history with the resource (monitor/pipeline/lookups.py) and the retry outcome
(monitor/rules/outcomes.py). For conflicts already stored by earlier batches, what this batch's
rows decide: a late race winner turns an `unknown` 409 into a `concurrent_write` (or links a
create-only PUT to the write that beat it), a closer winner replaces the one a conflict holds,
an earlier request of the same client turns a PUT that looked like a create into an update,
and a write of the same client may be the next attempt after a stored conflict. So every
answer is a function of the stored rows, whatever order the batches came in. Changes to stored
conflicts move their rollup counts (-1 from the old key, +1 to the new) in the same
transaction, so rollups stay equal to the rows.

Locking (docs/architecture.md, "Conflict analysis"): every conflict row that the batch may
write is locked in one statement, in id order, before anything is read to decide it; the
reads that decide come after the lock, so they see the rows of every batch that committed
before. Two workers holding the two sides of a race thus serialize on the loser's row, and
whichever decides second sees the other's rows.
"""

from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import partial

from django.conf import settings
from django.db import connection

from ingest.models import Request
from monitor.models import Project
from monitor.pipeline import lookups
from monitor.pipeline.counts import Counts
from monitor.pipeline.lookups import Ask, Decidable, ended
from monitor.pipeline.writeback import Decided
from monitor.rules.causes import (
    CONFLICT_STATUSES,
    HISTORY,
    SLOWEST_WRITE,
    WRITE_METHODS,
    RaceWinner,
    Verdict,
    classify,
    is_successful_write,
    links_winner,
    needs_history,
    project_phrases,
)
from monitor.rules.outcomes import RETRY_HORIZON, Outcome, attempt, decide
from monitor.rules.versions import VersionSignals

RACING_CAUSES = ("unknown", "concurrent_write", "duplicate")


@dataclass
class Decision:
    """What a conflict row should hold after this batch."""

    cause: str
    reason: str
    winner: RaceWinner | None
    outcome: Outcome | None
    # Whether the winner was looked for (then `winner` None means none); else the row keeps
    # the winner it holds.
    racing: bool = False


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
    read_locked = lookups.lock_decidable(decidable)
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
    decided = counts.decided
    for row in own:
        d = decisions[row["id"]]
        decided.append(_decided(row, d))
        o = d.outcome
        counts.conflict(
            row, d.cause, o.outcome if o else None, o.resolved_after_ms if o else None, +1
        )
        if d.winner is not None:
            counts.race(row, d.winner)
    changed = []
    for row in stored:
        d = decisions[row["id"]]
        old_outcome = row["retry_outcome"]
        old_ms = row["resolved_after_ms"]
        new_outcome = d.outcome.outcome if d.outcome else old_outcome
        new_ms = d.outcome.resolved_after_ms if d.outcome else old_ms
        new_next = d.outcome.next_after_ms if d.outcome else row["next_attempt_ms"]
        winner_id = d.winner.id if d.winner else None
        relinked = d.racing and winner_id != row["race_winner_id"]
        unchanged = (
            d.cause == row["cause"]
            and d.reason == row["cause_reason"]
            and new_outcome == old_outcome
            and new_ms == old_ms
            and new_next == row["next_attempt_ms"]
        )
        if unchanged and not relinked:
            continue
        decided.append(_decided(row, d, keep=row))
        counts.conflict(row, row["cause"], old_outcome, old_ms, -1)
        counts.conflict(row, d.cause, new_outcome, new_ms, +1)
        if d.cause != row["cause"]:
            counts.cause_moved(row, row["cause"], d.cause)
        if relinked:
            changed.append((row, d.winner))
    old_winners = _old_winners([row for row, _ in changed])
    for row, winner in changed:
        old = old_winners.get(row["race_winner_id"])
        if old is not None:
            counts.race(row, old, -1)
        if winner is not None:
            counts.race(row, winner)
    return {row["id"]: decisions[row["id"]].cause for row in own}


def _old_winners(rows: list[dict]) -> dict[int, RaceWinner]:
    """The winners these stored conflicts held, whose race counts move to a closer one."""
    ids = {r["race_winner_id"] for r in rows if r["race_winner_id"] is not None}
    if not ids:
        return {}
    return {
        w["id"]: RaceWinner(w["id"], w["client"], w["method"], w["ts"], w["status"])
        for w in Request.objects.filter(id__in=ids).values("id", "client", "method", "ts", "status")
    }


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
    """What the batch may decide (lookups.Decidable), or None when nothing: its own
    conflicts; stored ones of the same client and resource up to RETRY_HORIZON before one of
    its writes (the write may be their next attempt); unlinked 409s on a resource up to the
    race window after one of its successful writes (it may be their race winner); 409s on PUT
    up to HISTORY after one of its rows (it may be their client's history with the resource).
    Conflicts older than the raw retention are final."""
    own_times = {r["id"]: r["ts"] for r in rows if r["status"] in CONFLICT_STATUSES}
    writes = [r for r in rows if r["method"] in WRITE_METHODS]
    write_times = writes_by_pair(writes)
    oldest = now - timedelta(days=settings.CONFLICTWATCH_RAW_RETENTION_DAYS)
    retry_span = race_span = None
    if write_times:
        times = [r["ts"] for r in writes]
        retry_span = (max(oldest, min(times) - RETRY_HORIZON), max(times))
    wins = [r for r in writes if is_successful_write(r["method"], r["status"])]
    won = {r["resource"] for r in wins}
    if wins:
        # A loser answered after the winner ended, and started at most the race window after.
        first = min(r["ts"] for r in wins) - SLOWEST_WRITE
        last = max(ended(r["ts"], r["duration_ms"]) for r in wins)
        race_span = (max(oldest, first), last + project.race_window)
    # Stored PUT conflicts up to HISTORY after one of its rows: a row may be their client's
    # history with the resource.
    used = [r["ts"] for r in rows if r["client"] is not None]
    seen_span = (max(oldest, min(used)), max(used) + HISTORY) if used else None
    if not own_times and retry_span is None and race_span is None and seen_span is None:
        return None
    return Decidable(
        project.id, batch_id, own_times, write_times, retry_span, won, race_span, seen_span
    )


def decide_all(
    project: Project,
    own: list[dict],
    stored: list[dict],
    now: datetime,
    write_times: dict[tuple[str, str], list[datetime]],
) -> dict[int, Decision]:
    """Cause, winner and outcome of the batch's conflicts; for stored ones, the cause and
    winner again when a winner or the client's history may explain them (else their own),
    and their outcome."""
    phrases = project_phrases(project.conflict_phrases)
    signals = VersionSignals.for_project(project)
    decisions: dict[int, Decision] = {}
    racing, historic = [], set()
    for mine, row in [(True, r) for r in own] + [(False, r) for r in stored]:
        base = _classify(row, phrases, signals)
        if mine:
            decisions[row["id"]] = Decision(base.cause, base.reason, None, None)
        else:
            decisions[row["id"]] = Decision(row["cause"], row["cause_reason"], None, None)
        if (mine or row["cause"] in RACING_CAUSES) and links_winner(
            base.cause, row["method"], row["status"]
        ):
            racing.append(row)
            if row["client"] is not None and needs_history(base, row["method"], row["status"]):
                historic.add(row["id"])
    tracked = [r for r in own + stored if r["client"] is not None]
    bounds = _next_write_bounds(tracked, write_times)
    following, winners, seen = _lookups(project, tracked, bounds, racing, historic)
    for row in racing:
        winner = winners.get(row["id"])
        v = _classify(row, phrases, signals, winner, seen.get(row["id"]))
        linked = winner if links_winner(v.cause, row["method"], row["status"]) else None
        decisions[row["id"]] = Decision(v.cause, v.reason, linked, None, racing=True)
    for row in tracked:
        next_write = following.get(row["id"])
        decisions[row["id"]].outcome = decide(
            attempt(row, signals),
            attempt(next_write, signals) if next_write is not None else None,
            now,
        )
    return decisions


def _lookups(
    project: Project,
    tracked: list[dict],
    bounds: dict[int, datetime],
    racing: list[dict],
    historic: set[int],
) -> tuple[dict[int, dict], dict[int, RaceWinner], dict[int, bool]]:
    """The next writes of the tracked conflicts, the race winners of the racing ones and
    whether the client used the resource before a `historic` one
    (monitor/pipeline/lookups.py): on Postgres in one statement."""
    window = project.race_window
    if connection.vendor != "postgresql":
        return (
            lookups.next_writes(project.id, tracked, bounds),
            lookups.race_winners(project.id, racing, window),
            lookups.seen_before(project.id, [r for r in racing if r["id"] in historic]),
        )
    asks = {ask.id: ask for ask in lookups.next_write_asks(tracked, bounds)}
    for r in racing:
        wanted = {
            "since": r["ts"] - window,
            "answer": ended(r["ts"], r["duration_ms"]),
            "history": r["ts"] - HISTORY if r["id"] in historic else None,
        }
        ask = asks.get(r["id"])
        if ask is None:
            asks[r["id"]] = Ask(r["id"], r["ts"], r["client"], r["resource"], None, **wanted)
        else:
            asks[r["id"]] = replace(ask, **wanted)
    if not asks:
        return {}, {}, {}
    found = lookups.next_writes_and_winners(project.id, list(asks.values()))
    following = {f.conflict_id: f.next_write for f in found if f.next_write is not None}
    winners = {f.conflict_id: f.winner for f in found if f.winner is not None}
    return following, winners, {f.conflict_id: f.seen for f in found if f.seen is not None}


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


def _classify(
    row: dict,
    phrases: dict,
    signals: VersionSignals,
    winner: RaceWinner | None = None,
    history: bool | None = None,
) -> Verdict:
    return classify(
        method=row["method"],
        status=row["status"],
        request_headers=row["request_headers"],
        response_headers=row["response_headers"],
        body=row["response_body"],
        winner=winner,
        resource=row["resource"],
        phrases=phrases,
        query=row["query"],
        signals=signals,
        history=history,
    )


def _decided(row: dict, d: Decision, keep: dict | None = None) -> Decided:
    """The row's new analysis columns; what the decision leaves open stays as `keep` has it."""
    winner_id = d.winner.id if d.winner else None
    if keep and not d.racing:
        winner_id = keep["race_winner_id"]
    if d.outcome is not None:
        o = d.outcome
        outcome, ms, next_ms = o.outcome, o.resolved_after_ms, o.next_after_ms
    else:
        outcome = keep["retry_outcome"] if keep else None
        ms = keep["resolved_after_ms"] if keep else None
        next_ms = keep["next_attempt_ms"] if keep else None
    return Decided(row["id"], row["ts"], d.cause, d.reason, winner_id, outcome, ms, next_ms)
