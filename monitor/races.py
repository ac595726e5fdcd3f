"""Race winners: for a conflict, the other client's successful write that beat it.

A winner is the latest successful write (2xx POST/PUT/PATCH/DELETE) by another client to the
same resource within the project's race window before the conflict. Lookups go through the
`(project, resource, ts)` index, one query for a whole set of conflicts.
"""

from collections import defaultdict
from datetime import timedelta

from ingest.models import Request
from monitor.conflicts import WRITE_METHODS, RaceWinner
from monitor.models import Project


def race_winners(project: Project, losers: list[dict], window: timedelta) -> dict[int, RaceWinner]:
    """{loser id: winner} for the losers (dicts with id, ts, client, resource) that have one."""
    if not losers:
        return {}
    resources = {r["resource"] for r in losers}
    start = min(r["ts"] for r in losers) - window
    end = max(r["ts"] for r in losers)
    candidates = defaultdict(list)
    for cand in (
        Request.objects.filter(
            project=project,
            resource__in=resources,
            ts__gte=start,
            ts__lte=end,
            status__gte=200,
            status__lt=300,
            method__in=WRITE_METHODS,
        )
        .values("id", "client", "method", "ts", "resource")
        .order_by("ts", "id")
    ):
        candidates[cand["resource"]].append(cand)
    found = {}
    for loser in losers:
        best = None
        for cand in candidates.get(loser["resource"], ()):
            if cand["ts"] > loser["ts"]:
                break
            if cand["ts"] >= loser["ts"] - window and cand["client"] != loser["client"]:
                best = cand
        if best is not None:
            found[loser["id"]] = RaceWinner(best["id"], best["client"], best["method"], best["ts"])
    return found
