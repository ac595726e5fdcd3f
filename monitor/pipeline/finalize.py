"""Finalisation of retry outcomes (beat, every minute): conflicts still `pending` once their
retry horizon has passed become `abandoned`, or take the outcome of a next write that is stored
but not aggregated yet."""

from collections import defaultdict
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from ingest.models import Request
from monitor.models import OutcomeRollup, Project
from monitor.pipeline.counts import Counts
from monitor.pipeline.lookups import LOCKED_FIELDS, next_writes
from monitor.pipeline.writeback import Decided
from monitor.rules.causes import CONFLICT_STATUSES
from monitor.rules.outcomes import RETRY_HORIZON, attempt, decide
from monitor.rules.versions import VersionSignals

FINALIZE_LIMIT = 5000


def finalize_pending(now: datetime | None = None, limit: int = FINALIZE_LIMIT) -> int:
    """Decide up to `limit` conflicts still `pending` whose retry horizon has passed. Rows that
    an aggregation holds right now are skipped (it decides them). Returns how many changed."""
    now = now or timezone.now()
    with transaction.atomic():
        by_project = _pending_conflicts(now - RETRY_HORIZON, limit)
        changed = 0
        for project_id, group in sorted(by_project.items()):
            signals = VersionSignals.for_project(Project.objects.get(pk=project_id))
            counts = Counts(project_id, signals=signals)
            following = next_writes(project_id, group)
            for row in group:
                nxt = following.get(row["id"])
                o = decide(
                    attempt(row, signals), attempt(nxt, signals) if nxt is not None else None, now
                )
                if o.outcome == "pending":
                    continue
                counts.decided.append(
                    Decided(
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
                counts.conflict(row, row["cause"], "pending", None, -1)
                counts.conflict(row, row["cause"], o.outcome, o.resolved_after_ms, +1)
            counts.write()
            changed += len(counts.decided)
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
