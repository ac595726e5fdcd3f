"""Indexed, bounded reads of raw requests for the pages (lists, never totals)."""

from datetime import datetime

from django.conf import settings
from django.db.models import Q, QuerySet

from ingest.models import Request
from monitor.alerts.models import Incident
from monitor.models import Endpoint, Project
from monitor.reads.timerange import TimeRange
from monitor.rules.causes import CONFLICT_STATUSES

PAGE_SIZE = 50
RECENT_CONFLICTS = 20
RECENT_LIMIT = 20


def in_range(project: Project, rng: TimeRange) -> QuerySet:
    """The project's raw requests in the range (to filter further, then page)."""
    return Request.objects.filter(project=project, ts__gte=rng.start, ts__lt=rng.end)


def project_requests(project: Project) -> QuerySet:
    """Every stored raw request of the project (for a detail lookup by id)."""
    return Request.objects.filter(project=project)


def project_conflicts(project: Project) -> QuerySet:
    """The project's conflict requests, with their race winners joined."""
    return Request.objects.filter(project=project, status__in=CONFLICT_STATUSES).select_related(
        "race_winner"
    )


def one_endpoint(project: Project, endpoint_id: int) -> Endpoint | None:
    """One endpoint of the project, or None."""
    return Endpoint.objects.filter(project=project, id=endpoint_id).first()


def one_request(project: Project, request_id: int) -> Request | None:
    """One request of the project with its endpoint and race winner, or None."""
    return (
        Request.objects.filter(project=project, id=request_id)
        .select_related("endpoint", "race_winner")
        .first()
    )


def recent_on_endpoint(
    endpoint: Endpoint, rng: TimeRange, *, conflicts: bool = False, limit: int = RECENT_LIMIT
) -> list[Request]:
    """The endpoint's newest requests in the range (conflicts only when asked)."""
    qs = Request.objects.filter(endpoint=endpoint, ts__gte=rng.start, ts__lt=rng.end)
    if conflicts:
        qs = qs.filter(status__in=CONFLICT_STATUSES)
    return list(qs.order_by("-ts", "-id")[:limit])


def past_retention(request_id: int) -> str | None:
    """The 404 message for a request id that is not stored but may have been: one issued
    before the newest stored row. Raw rows arrive out of order (late data), so ids do not
    say when a row was logged; the message says what retention keeps rather than guessing.
    None for an id never issued. Ids are one sequence for all projects, so this says nothing
    about other projects' rows."""
    if request_id <= 0:
        return None
    newest = Request.objects.order_by("-id").values_list("id", flat=True).first()
    if newest is None or request_id > newest:
        return None
    days = settings.CONFLICTWATCH_RAW_RETENTION_DAYS
    return (
        f"no request {request_id} in this project: it may be past retention, raw requests "
        f"are kept {days} days (their counts stay in the rollups)"
    )


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
