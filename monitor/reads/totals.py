"""Totals of a range for the API, the pages and the alerts: requests, statuses, causes,
latency quantiles, per project and per endpoint. Read from the rollups (pieces of minute, hour
and day rows: monitor/reads/grains.py), never from raw rows.
"""

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import IntegerField, Q, QuerySet, Sum, Value

from monitor.models import (
    Endpoint,
    LatencyDayRollup,
    LatencyHourRollup,
    LatencyRollup,
    Project,
    ProjectLatencyDayRollup,
    ProjectLatencyHourRollup,
    ProjectLatencyRollup,
    StatusDayRollup,
    StatusHourRollup,
    StatusRollup,
)
from monitor.reads.grains import by_grain, pieces, summed
from monitor.reads.timerange import TimeRange
from monitor.rules.latency import quantile
from monitor.rules.statuses import status_bounds
from monitor.rules.timebuckets import DAY, HOUR, MINUTE, floor

STATUS_MODELS = {MINUTE: StatusRollup, HOUR: StatusHourRollup, DAY: StatusDayRollup}
LATENCY_MODELS = {MINUTE: LatencyRollup, HOUR: LatencyHourRollup, DAY: LatencyDayRollup}
# The whole project's histograms (every endpoint summed), for unfiltered latency series.
PROJECT_LATENCY_MODELS = {
    MINUTE: ProjectLatencyRollup,
    HOUR: ProjectLatencyHourRollup,
    DAY: ProjectLatencyDayRollup,
}


@dataclass(frozen=True)
class Filters:
    """Filters that rollups can answer; None means not filtered."""

    endpoint: int | None = None
    method: str | None = None
    route: str | None = None
    status: int | str | None = None  # a code (409) or a class ("4xx")
    cause: str | None = None

    def to_endpoints(self, qs: QuerySet) -> QuerySet:
        """`qs` (rows keyed by endpoint) narrowed by the endpoint, method and route filters."""
        if self.endpoint is not None:
            qs = qs.filter(endpoint_id=self.endpoint)
        if self.method:
            qs = qs.filter(endpoint__method=self.method.upper())
        if self.route:
            qs = qs.filter(endpoint__route=self.route)
        return qs


def _rollup_rows(
    model,
    project: Project,
    rng: TimeRange,
    f: Filters,
    *,
    by_status: bool,
    within: Q | None = None,
) -> QuerySet:
    """The rows of `model` the filters match in `within` (a condition on `minute`), else in the
    range's minutes."""
    if within is None:
        start, end = rng.minute_bounds()
        within = Q(minute__gte=start, minute__lt=end)
    qs = f.to_endpoints(model.objects.filter(within, project=project))
    if by_status:
        if f.status is not None:
            lo, hi = status_bounds(f.status)
            qs = qs.filter(status=lo) if lo == hi else qs.filter(status__gte=lo, status__lte=hi)
        if f.cause:
            qs = qs.filter(cause=f.cause)
    return qs


def status_rows(project: Project, rng: TimeRange, f: Filters = Filters()) -> QuerySet:
    """Minute status rollups of the range (alert windows: short and recent)."""
    return _rollup_rows(StatusRollup, project, rng, f, by_status=True)


def latency_rows(project: Project, rng: TimeRange, f: Filters = Filters()) -> QuerySet:
    """Minute latency rollups of the range (alert windows: short and recent)."""
    return _rollup_rows(LatencyRollup, project, rng, f, by_status=False)


def status_parts(
    project: Project, rng: TimeRange, f: Filters = Filters(), coarsest: timedelta = DAY
) -> list[QuerySet]:
    """Status rollups of the range as one queryset per grain of its pieces (see `pieces` and
    `by_grain`); summing them all gives the range's totals. `coarsest` bounds the grain, e.g.
    HOUR for an hourly series."""
    return [
        _rollup_rows(STATUS_MODELS[g], project, rng, f, by_status=True, within=within)
        for g, within in by_grain(rng, coarsest)
    ]


def latency_rows_of(
    grain: timedelta, project: Project, rng: TimeRange, f: Filters, lo: datetime, hi: datetime
) -> QuerySet:
    """The latency rollups of one grain between `lo` and `hi` that the filters match."""
    within = Q(minute__gte=lo, minute__lt=hi)
    return _rollup_rows(LATENCY_MODELS[grain], project, rng, f, by_status=False, within=within)


def latency_parts(
    project: Project, rng: TimeRange, f: Filters = Filters(), coarsest: timedelta = DAY
) -> list[QuerySet]:
    """Latency rollups of the range as one queryset per grain, like `status_parts`."""
    return [
        _rollup_rows(LATENCY_MODELS[g], project, rng, f, by_status=False, within=within)
        for g, within in by_grain(rng, coarsest)
    ]


def tagged(parts: list[QuerySet], period: int) -> list[QuerySet]:
    """`parts` with the index of the period they belong to as the column `period`."""
    return [qs.annotate(period=Value(period, output_field=IntegerField())) for qs in parts]


def _rate(part: int, whole: int) -> float:
    return round(part / whole, 6) if whole else 0.0


def summary(project: Project, rng: TimeRange, f: Filters = Filters()) -> dict:
    """Totals for the range: requests, by status, conflicts, conflict rate, by cause, p95."""
    return summaries(project, [rng], f)[0]


def summaries(
    project: Project,
    ranges: list[TimeRange],
    f: Filters = Filters(),  # noqa: B008 - frozen dataclass, never mutated
) -> list[dict]:
    """`summary` of each range, from one read of the status rollups and one of the latency
    rollups for all of them."""
    return [s for s, _ in _read(project, ranges, f, by_endpoint=False)]


def _totals(by_status: dict[str, int], by_cause: dict[str, int], hist: dict[int, int]) -> dict:
    """The summary's shape from counts by status, by cause and the latency histogram."""
    requests = sum(by_status.values())
    conflicts = sum(by_cause.values())
    return {
        "requests": requests,
        "by_status": dict(sorted(by_status.items())),
        "conflicts": conflicts,
        "conflict_rate": _rate(conflicts, requests),
        "by_cause": dict(sorted(by_cause.items(), key=lambda kv: -kv[1])),
        "p50_ms": quantile(hist, 0.5),
        "p95_ms": quantile(hist, 0.95),
    }


def first_recent_minute(project: Project, now: datetime, within: timedelta) -> datetime | None:
    """The first minute with traffic in the `within` before `now`, or None (one index probe):
    how much recent history a project has, so that pages can pick a range that fits it."""
    return (
        StatusRollup.objects.filter(project=project, minute__gte=now - within, minute__lt=now)
        .order_by("minute")
        .values_list("minute", flat=True)
        .first()
    )


def count(
    project: Project,
    rng: TimeRange,
    f: Filters = Filters(),  # noqa: B008 - frozen dataclass, never mutated
    *,
    conflicts_only: bool = False,
) -> int:
    """Requests (or only conflicts) in the range's rollup minutes that the filters match."""
    n = 0
    for qs in status_parts(project, rng, f):
        if conflicts_only:
            qs = qs.exclude(cause="")
        n += qs.aggregate(n=Sum("n"))["n"] or 0
    return n


def previous(rng: TimeRange) -> TimeRange:
    """The period of the same length just before `rng`: what pages compare with. It ends
    where the range's first rollup minute starts (rollups count whole minutes from
    floor(start)), so that no minute is counted in both."""
    end = floor(rng.start, MINUTE)
    return TimeRange(end - rng.span, end)


def endpoints(project: Project, rng: TimeRange, f: Filters = Filters()) -> list[dict]:
    """Per endpoint with traffic in the range, most requests first."""
    return summary_and_endpoints(project, rng, f)[1]


def summary_and_endpoints(
    project: Project,
    rng: TimeRange,
    f: Filters = Filters(),  # noqa: B008 - frozen dataclass, never mutated
) -> tuple[dict, list[dict]]:
    """What `summary` and `endpoints` answer, from one read of each rollup (for a page that
    shows both): the range's totals, and its endpoints with traffic, most requests first."""
    return _read(project, [rng], f, by_endpoint=True)[0]


def _read(
    project: Project, ranges: list[TimeRange], f: Filters, *, by_endpoint: bool
) -> list[tuple[dict, list[dict]]]:
    """(summary, endpoints) of each range: the status rollups of every piece of every range
    in one statement, the latency rollups in another, and the endpoints' names in a third
    (`by_endpoint`; else the endpoint lists are empty)."""
    key = ["period", "endpoint_id"] if by_endpoint else ["period"]
    # Summed over the pieces in the database: a row per period, endpoint and status (or
    # latency bucket) reaches Python, not one per piece.
    status_rows = summed(
        [qs for i, rng in enumerate(ranges) for qs in tagged(status_parts(project, rng, f), i)],
        [*key, "status", "cause"],
        ["n", "writes", "conditional_writes"],
    )
    # Grouped once, by the outer statement: with one part per grain the parts' own grouping
    # hashed nearly every row a second time (a week of both periods: 22 ms to 18 ms).
    latency_rows = summed(
        [qs for i, rng in enumerate(ranges) for qs in tagged(latency_parts(project, rng, f), i)],
        [*key, "bucket"],
        ["n"],
        per_piece=False,
    )
    periods = [_Period() for _ in ranges]
    for period, *row in status_rows:
        periods[period].add_status(row, by_endpoint)
    for period, *row in latency_rows:
        periods[period].add_latency(row, by_endpoint)
    names = {}
    if by_endpoint:
        ids = {ep for p in periods for ep in p.stats}
        rows = Endpoint.objects.filter(id__in=ids).values_list("id", "method", "route")
        names = {ep_id: (method, route) for ep_id, method, route in rows} if ids else {}
    return [p.result(names) for p in periods]


class _Period:
    """Counts of one period as the rollup rows come: the whole and per endpoint."""

    def __init__(self):
        self.stats: dict[int, dict] = {}
        self.by_status: dict[str, int] = defaultdict(int)
        self.by_cause: dict[str, int] = defaultdict(int)
        self.hists: dict[int, dict[int, int]] = defaultdict(lambda: defaultdict(int))
        self.hist: dict[int, int] = defaultdict(int)

    def add_status(self, row: list, by_endpoint: bool) -> None:
        """`row`: ([endpoint id,] status, cause, n, writes, conditional writes)."""
        if by_endpoint:
            ep_id, status, cause, n, writes, conditional = row
        else:
            status, cause, n, writes, conditional = row
        status = str(status)
        self.by_status[status] += n
        if cause:
            self.by_cause[cause] += n
        if not by_endpoint:
            return
        ep = self.stats.get(ep_id)
        if ep is None:
            ep = self.stats[ep_id] = {
                "requests": 0,
                "by_status": defaultdict(int),
                "conflicts": 0,
                "writes": 0,
                "conditional": 0,
            }
        ep["requests"] += n
        ep["by_status"][status] += n
        if cause:
            ep["conflicts"] += n
        ep["writes"] += writes
        ep["conditional"] += conditional

    def add_latency(self, row: list, by_endpoint: bool) -> None:
        """`row`: ([endpoint id,] latency bucket, n)."""
        *ep, bucket, n = row
        self.hist[bucket] += n
        if by_endpoint:
            self.hists[ep[0]][bucket] += n

    def result(self, names: dict[int, tuple[str, str]]) -> tuple[dict, list[dict]]:
        endpoints = []
        for ep_id, ep in self.stats.items():
            if ep_id not in names:
                continue
            method, route = names[ep_id]
            endpoints.append(
                {
                    "id": ep_id,
                    "method": method,
                    "route": route,
                    "requests": ep["requests"],
                    "by_status": dict(sorted(ep["by_status"].items())),
                    "conflicts": ep["conflicts"],
                    "conflict_rate": _rate(ep["conflicts"], ep["requests"]),
                    "p50_ms": quantile(self.hists[ep_id], 0.5),
                    "p95_ms": quantile(self.hists[ep_id], 0.95),
                    "precondition_coverage": (
                        _rate(ep["conditional"], ep["writes"]) if ep["writes"] else None
                    ),
                }
            )
        endpoints.sort(key=lambda e: (-e["requests"], e["route"], e["method"]))
        return _totals(self.by_status, self.by_cause, self.hist), endpoints


def compared(
    project: Project,
    rng: TimeRange,
    f: Filters = Filters(),  # noqa: B008 - frozen dataclass, never mutated
) -> tuple[dict, list[dict]]:
    """`summary_and_endpoints` of the range with the previous period of the same length
    (`previous`) beside each: the summary's "previous" holds that period's summary, each
    endpoint's "previous" its figures then (None when it had no traffic). Both periods are
    read together (one statement per rollup)."""
    (summary, endpoints), (before, before_endpoints) = _read(
        project, [rng, previous(rng)], f, by_endpoint=True
    )
    summary["previous"] = before
    by_id = {e["id"]: e for e in before_endpoints}
    for e in endpoints:
        e["previous"] = by_id.get(e["id"])
    return summary, endpoints


def by_project(projects: list[Project], rng: TimeRange) -> dict[int, dict]:
    """Requests, conflicts and conflict rate of each project over the range and the period
    before it ({project id: {..., "previous": {...}}}), one query per rollup piece for all of
    them (the project list's cards)."""
    ids = [p.id for p in projects]
    out: dict[int, dict] = {}
    for period in (rng, previous(rng)):
        counts: dict[int, list[int]] = defaultdict(lambda: [0, 0])
        for grain, lo, hi in pieces(period):
            rows = (
                STATUS_MODELS[grain]
                .objects.filter(project_id__in=ids, minute__gte=lo, minute__lt=hi)
                .values("project_id")
                .annotate(requests=Sum("n"), conflicts=Sum("n", filter=~Q(cause="")))
            )
            for row in rows:
                counts[row["project_id"]][0] += row["requests"] or 0
                counts[row["project_id"]][1] += row["conflicts"] or 0
        for pid in ids:
            requests, conflicts = counts.get(pid, (0, 0))
            figures = {
                "requests": requests,
                "conflicts": conflicts,
                "conflict_rate": _rate(conflicts, requests),
            }
            if pid in out:
                out[pid]["previous"] = figures
            else:
                out[pid] = figures
    return out
