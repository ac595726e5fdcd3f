"""Indexed, bounded reads of raw requests for the pages (lists, never totals)."""

from datetime import datetime

from django.db.models import Q

from ingest.models import Request
from monitor.alerts.models import Incident
from monitor.conflicts import CONFLICT_STATUSES
from monitor.models import Project
from monitor.timerange import TimeRange

PAGE_SIZE = 50
RECENT_CONFLICTS = 20


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


def client_history(project: Project, client: str, rng: TimeRange, before=None, conflicts=False):
    """One client's requests, newest first (index: project, client, ts); `conflicts` keeps the
    conflict statuses only."""
    qs = Request.objects.filter(
        project=project, client=client, ts__gte=rng.start, ts__lt=rng.end
    ).select_related("race_winner")
    if conflicts:
        qs = qs.filter(status__in=CONFLICT_STATUSES)
    return newest_first(qs, before, limit=RECENT_CONFLICTS if conflicts else PAGE_SIZE)


def recent_incidents(project: Project, rng: TimeRange, limit: int = 50) -> list:
    """Incidents of the project's alert rules that overlap the range, oldest first (one query,
    at most `limit`)."""
    return list(
        Incident.objects.filter(rule__project=project, opened_at__lt=rng.end)
        .filter(Q(resolved_at__isnull=True) | Q(resolved_at__gte=rng.start))
        .select_related("rule")
        .order_by("-opened_at")[:limit]
    )[::-1]
