"""Race winners: for a conflict, the other client's successful write that beat it.

A winner is the latest successful write (2xx POST/PUT/PATCH/DELETE) by another client to the
same resource within the project's race window before the conflict (by time, then id). On
Postgres aggregation finds winners together with next writes, in one statement
(conflict_lookups.next_writes_and_winners); elsewhere `race_winners` reads the candidates
through the `(project, resource, ts)` index, one query for a whole set of conflicts.
"""

from collections import defaultdict
from datetime import timedelta

from monitor.conflict_lookups import successful_writes
from monitor.conflicts import RaceWinner
from monitor.models import Project


def race_winners(project: Project, losers: list[dict], window: timedelta) -> dict[int, RaceWinner]:
    """{loser id: winner} for the losers (dicts with id, ts, client, resource) that have one."""
    if not losers:
        return {}
    resources = {r["resource"] for r in losers}
    start = min(r["ts"] for r in losers) - window
    end = max(r["ts"] for r in losers)
    candidates = defaultdict(list)
    for cand in successful_writes(project.id, resources, start, end):
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
