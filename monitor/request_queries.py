"""Indexed, bounded reads of raw requests for the pages (lists, never totals)."""

from datetime import datetime

from ingest.models import Request
from monitor.models import Project
from monitor.timerange import TimeRange

PAGE_SIZE = 50


def newest_first(qs, before: tuple[datetime, int] | None, limit: int = PAGE_SIZE):
    """One page of a request queryset, newest first, after the keyset cursor `before`
    (ts, id); returns (rows, cursor of the next page or None)."""
    if before is not None:
        ts, row_id = before
        qs = qs.filter(ts__lte=ts).exclude(ts=ts, id__gte=row_id)
    rows = list(qs.order_by("-ts", "-id")[: limit + 1])
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, ((rows[-1].ts, rows[-1].id) if more else None)


def resource_history(project: Project, resource: str, rng: TimeRange, before=None):
    """Requests that addressed one resource, newest first (index: project, resource, ts)."""
    qs = Request.objects.filter(
        project=project, resource=resource, ts__gte=rng.start, ts__lt=rng.end
    ).select_related("race_winner")
    return newest_first(qs, before)
