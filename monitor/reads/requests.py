"""Indexed, bounded reads of raw requests for the pages: lists, the live tail, and the
explorer's match count (rollups for whole minutes, raw rows only at a range's ragged ends)."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db.models import Q, QuerySet, Sum

from ingest.models import LONG_REQUEST_ID, IngestBatch, Request
from ingest.normalize import MAX_REQUEST_ID, request_id_key
from monitor.alerts.models import Incident
from monitor.models import ClientRollup, Endpoint, Project
from monitor.reads import totals
from monitor.reads.timerange import TimeRange
from monitor.rules.causes import CONFLICT_STATUSES
from monitor.rules.timebuckets import MINUTE, ceil, floor

PAGE_SIZE = 50
RECENT_CONFLICTS = 20
RECENT_LIMIT = 20


def in_range(project: Project, rng: TimeRange) -> QuerySet:
    """The project's raw requests in the range (to filter further, then page)."""
    return Request.objects.filter(project=project, ts__gte=rng.start, ts__lt=rng.end)


def with_request_id(requests: QuerySet, request_id: str) -> QuerySet:
    """The requests whose gateway request id is this one. A usual id is found through the
    dedup index (the dedup key of a record with a request id is made from it); one long
    enough to have been cut, through the index of long ids."""
    if len(request_id) >= MAX_REQUEST_ID:
        return requests.filter(LONG_REQUEST_ID, request_id=request_id)
    return requests.filter(dedup_key=request_id_key(request_id), request_id=request_id)


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


def page(
    qs,
    before: tuple[datetime, int] | None = None,
    after: tuple[datetime, int] | None = None,
    limit: int = PAGE_SIZE,
):
    """One page of a request queryset, newest first: the newest rows, those older than the
    keyset cursor `before`, or those just newer than `after` (ts, id). Returns (rows, cursor of
    the older page or None, cursor of the newer page or None)."""
    if after is None:
        rows, older = newest_first(qs, before, limit)
        newer = (rows[0].ts, rows[0].id) if before is not None and rows else None
        return rows, older, newer
    ts, row_id = after
    qs = qs.filter(ts__gte=ts).exclude(ts=ts, id__lte=row_id)
    rows = list(qs.order_by("ts", "id")[: limit + 1])
    more = len(rows) > limit
    rows = rows[:limit][::-1]
    if not rows:
        return rows, None, None
    return rows, (rows[-1].ts, rows[-1].id), ((rows[0].ts, rows[0].id) if more else None)


@dataclass(frozen=True)
class Count:
    """How many requests a list's filters match: `n`, exact or (not `exact`) at least n."""

    n: int
    exact: bool = True


COUNT_CAP = 1000
# Filters the status rollup answers, and those the client rollup answers.
STATUS_ROLLUP_FILTERS = frozenset({"status", "method", "endpoint", "cause", "conflicts"})
CLIENT_ROLLUP_FILTERS = frozenset({"client", "method", "endpoint", "conflicts"})


def count_matching(
    project: Project, rng: TimeRange, chosen: dict, rows: QuerySet, *, conflicts_only: bool
) -> Count:
    """The number of requests in the range that the explorer's filters (`chosen`, already
    validated; `rows` the raw rows they select) match. Whole minutes are counted from the
    rollups when they can answer the filters, the ragged minutes at the range's ends from raw
    rows, so the total is exact without counting raw rows over the range; other filters (a
    path prefix, a request id) count raw rows up to COUNT_CAP."""
    keys = {k for k, v in chosen.items() if v}
    inner = TimeRange(ceil(rng.start, MINUTE), floor(rng.end, MINUTE))
    if inner.start >= inner.end or not (
        keys <= STATUS_ROLLUP_FILTERS or keys <= CLIENT_ROLLUP_FILTERS
    ):
        n = rows[: COUNT_CAP + 1].count()
        return Count(min(n, COUNT_CAP), n <= COUNT_CAP)
    edges = rows.filter(Q(ts__lt=inner.start) | Q(ts__gte=inner.end)).count()
    # Validated by the FilterSet as a whole number, which may be written "5e0".
    endpoint = int(Decimal(chosen["endpoint"])) if chosen.get("endpoint") else None
    method = chosen.get("method") or None
    if keys <= STATUS_ROLLUP_FILTERS:
        f = totals.Filters(
            endpoint=endpoint,
            method=method,
            status=chosen.get("status") or None,
            cause=chosen.get("cause") or None,
        )
        return Count(edges + totals.count(project, inner, f, conflicts_only=conflicts_only))
    qs = ClientRollup.objects.filter(
        project=project,
        client=chosen["client"],
        minute__gte=inner.start,
        minute__lt=inner.end,
    )
    if endpoint is not None:
        qs = qs.filter(endpoint_id=endpoint)
    if method:
        qs = qs.filter(endpoint__method=method.upper())
    field = "conflicts" if conflicts_only else "requests"
    return Count(edges + (qs.aggregate(n=Sum(field))["n"] or 0))


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


# -- the live tail -----------------------------------------------------------------------------
# Batches are numbered when they start and become visible when they commit, so a batch with a
# lower id can appear after a higher one. A tail's cursor therefore only moves past batches
# received more than SETTLE ago (their transactions are over): every poll reads the batches
# after the cursor again, and the page shows each row once (by id).
SETTLE = timedelta(seconds=15)
TAIL_FIRST = 50
TAIL_LIMIT = 100


def settled_batch(now: datetime) -> int:
    """The highest batch id received more than SETTLE before `now` (0 when none): every batch
    up to it has committed or failed. Reads the newest batches of the primary key only."""
    found = (
        IngestBatch.objects.filter(received_at__lt=now - SETTLE)
        .order_by("-id")
        .values_list("id", flat=True)
        .first()
    )
    return found or 0


def tail_start(rows: QuerySet, now: datetime, limit: int = TAIL_FIRST) -> tuple[list, int]:
    """The newest rows of the last hour (`rows`: the project's requests, filtered) and the
    cursor to poll from."""
    recent = list(
        rows.filter(ts__gte=now - timedelta(hours=1), ts__lt=now + timedelta(days=1))
        .select_related("race_winner")
        .order_by("-ts", "-id")[:limit]
    )
    return recent, settled_batch(now)


def tail_since(
    rows: QuerySet, cursor: int, now: datetime, limit: int = TAIL_LIMIT
) -> tuple[list, int, bool]:
    """Rows stored by batches after `cursor` (`rows`: the project's requests, filtered),
    newest first, at most `limit`; the next cursor; whether more arrived than `limit`."""
    new = list(
        rows.filter(batch_id__gt=cursor).select_related("race_winner").order_by("-id")[: limit + 1]
    )
    return new[:limit], max(cursor, settled_batch(now)), len(new) > limit
