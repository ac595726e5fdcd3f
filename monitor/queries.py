"""Read models for the API and the pages. Totals come from rollups, never from raw rows.

Rollups exist per minute, hour and day (monitor/rollups.py). A range is read as pieces
(`pieces`): minutes at its ragged edges, whole hours next to them and whole days in the middle,
so totals are exact while a 30-day summary reads about 30 day rows per key instead of 43,200
minute rows. Minute rollups are kept CONFLICTWATCH_ROLLUP_RETENTION_DAYS: an edge older than
that is read from its whole hour, whether or not the minutes are still there, so the answer for
a range does not change when `prune` runs.
"""

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db.models import QuerySet, Sum

from monitor.buckets import FloorTo
from monitor.latency import quantile
from monitor.models import (
    Endpoint,
    LatencyDayRollup,
    LatencyHourRollup,
    LatencyRollup,
    Project,
    StatusDayRollup,
    StatusHourRollup,
    StatusRollup,
)
from monitor.timerange import TimeRange

MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
STATUS_MODELS = {MINUTE: StatusRollup, HOUR: StatusHourRollup, DAY: StatusDayRollup}
LATENCY_MODELS = {MINUTE: LatencyRollup, HOUR: LatencyHourRollup, DAY: LatencyDayRollup}


def _floor(t: datetime, step: timedelta) -> datetime:
    return _EPOCH + ((t - _EPOCH) // step) * step


def _ceil(t: datetime, step: timedelta) -> datetime:
    down = _floor(t, step)
    return down if down == t else down + step


def minute_cutoff(now: datetime | None = None) -> datetime:
    """Minute rollups before this instant may be pruned, so reads take whole hours there.
    Hour-aligned; prune deletes minute rows only before the UTC day that holds it."""
    now = now or datetime.now(UTC)
    return _floor(now - timedelta(days=settings.CONFLICTWATCH_ROLLUP_RETENTION_DAYS), HOUR)


def pieces(
    rng: TimeRange, coarsest: timedelta = DAY, now: datetime | None = None
) -> list[tuple[timedelta, datetime, datetime]]:
    """Disjoint (grain, start, end) pieces that cover the rollup minutes of the range
    [floor(start), end): whole days (when `coarsest` is a day) in the middle, whole hours
    around them, minutes at the edges. Minute edges before `minute_cutoff` widen to their hour
    (unless `coarsest` is a minute: a per-minute series past retention is simply empty).
    """
    now = now or datetime.now(UTC)
    # Ingest keeps only records between 2000 and tomorrow: nothing to read outside that (and
    # no calendar overflow at year 9999).
    start = _floor(max(rng.start, EARLIEST), MINUTE)
    end = _ceil(min(rng.end, now + timedelta(days=2)), MINUTE)
    if start >= end:
        return []
    cutoff = minute_cutoff(now)
    out: list[tuple[timedelta, datetime, datetime]] = []

    def minutes(lo: datetime, hi: datetime) -> None:
        if lo >= hi:
            return
        if lo < cutoff and coarsest >= HOUR:
            out.append((HOUR, _floor(lo, HOUR), _ceil(hi, HOUR)))
        else:
            out.append((MINUTE, lo, hi))

    def hours(lo: datetime, hi: datetime) -> None:
        first, last = _ceil(lo, HOUR), _floor(hi, HOUR)
        if coarsest < HOUR or first >= last:
            minutes(lo, hi)
            return
        minutes(lo, first)
        out.append((HOUR, first, last))
        minutes(last, hi)

    first_day, last_day = _ceil(start, DAY), _floor(end, DAY)
    if coarsest >= DAY and first_day < last_day:
        hours(start, first_day)
        out.append((DAY, first_day, last_day))
        hours(last_day, end)
    else:
        hours(start, end)
    # Two minute edges widened into the same hour (a short range long ago) read it once.
    merged: list[tuple[timedelta, datetime, datetime]] = []
    for piece in out:
        if merged and merged[-1][0] == piece[0] and merged[-1][2] >= piece[1]:
            merged[-1] = (piece[0], merged[-1][1], max(merged[-1][2], piece[2]))
        else:
            merged.append(piece)
    return merged


@dataclass(frozen=True)
class Filters:
    """Filters that rollups can answer; None means not filtered."""

    endpoint: int | None = None
    method: str | None = None
    route: str | None = None
    status: int | None = None
    cause: str | None = None


def _rollup_rows(
    model,
    project: Project,
    rng: TimeRange,
    f: Filters,
    *,
    by_status: bool,
    bounds: tuple[datetime, datetime] | None = None,
) -> QuerySet:
    start, end = bounds or rng.minute_bounds()
    qs = model.objects.filter(project=project, minute__gte=start, minute__lt=end)
    if f.endpoint is not None:
        qs = qs.filter(endpoint_id=f.endpoint)
    if f.method:
        qs = qs.filter(endpoint__method=f.method.upper())
    if f.route:
        qs = qs.filter(endpoint__route=f.route)
    if by_status:
        if f.status is not None:
            qs = qs.filter(status=f.status)
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
    """Status rollups of the range as one queryset per piece (see `pieces`); summing them all
    gives the range's totals. `coarsest` bounds the grain, e.g. HOUR for an hourly series."""
    return [
        _rollup_rows(STATUS_MODELS[g], project, rng, f, by_status=True, bounds=(lo, hi))
        for g, lo, hi in pieces(rng, coarsest)
    ]


def latency_parts(
    project: Project, rng: TimeRange, f: Filters = Filters(), coarsest: timedelta = DAY
) -> list[QuerySet]:
    """Latency rollups of the range as one queryset per piece, like `status_parts`."""
    return [
        _rollup_rows(LATENCY_MODELS[g], project, rng, f, by_status=False, bounds=(lo, hi))
        for g, lo, hi in pieces(rng, coarsest)
    ]


def _grouped(parts: list[QuerySet], fields: list[str], **sums) -> list[dict]:
    """Rows of `fields` with their `sums`, read from every part."""
    return [row for qs in parts for row in qs.values(*fields).annotate(**sums)]


def _rate(part: int, whole: int) -> float:
    return round(part / whole, 6) if whole else 0.0


def summary(project: Project, rng: TimeRange, f: Filters = Filters()) -> dict:
    """Totals for the range: requests, by status, conflicts, conflict rate, by cause, p95."""
    by_status: dict[str, int] = defaultdict(int)
    by_cause: dict[str, int] = defaultdict(int)
    for row in _grouped(status_parts(project, rng, f), ["status", "cause"], total=Sum("n")):
        by_status[str(row["status"])] += row["total"]
        if row["cause"]:
            by_cause[row["cause"]] += row["total"]
    requests = sum(by_status.values())
    conflicts = sum(by_cause.values())
    hist: dict[int, int] = defaultdict(int)
    for row in _grouped(latency_parts(project, rng, f), ["bucket"], total=Sum("n")):
        hist[row["bucket"]] += row["total"]
    return {
        "requests": requests,
        "by_status": dict(sorted(by_status.items())),
        "conflicts": conflicts,
        "conflict_rate": _rate(conflicts, requests),
        "by_cause": dict(sorted(by_cause.items(), key=lambda kv: -kv[1])),
        "p50_ms": quantile(hist, 0.5),
        "p95_ms": quantile(hist, 0.95),
    }


def endpoints(project: Project, rng: TimeRange, f: Filters = Filters()) -> list[dict]:
    """Per endpoint with traffic in the range, most requests first."""
    stats: dict[int, dict] = {}
    for row in _grouped(
        status_parts(project, rng, f),
        ["endpoint_id", "status", "cause"],
        total=Sum("n"),
        writes=Sum("writes"),
        conditional=Sum("conditional_writes"),
    ):
        ep = stats.setdefault(
            row["endpoint_id"],
            {
                "requests": 0,
                "by_status": defaultdict(int),
                "conflicts": 0,
                "writes": 0,
                "conditional": 0,
            },
        )
        ep["requests"] += row["total"]
        ep["by_status"][str(row["status"])] += row["total"]
        if row["cause"]:
            ep["conflicts"] += row["total"]
        ep["writes"] += row["writes"]
        ep["conditional"] += row["conditional"]
    hists: dict[int, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for row in _grouped(latency_parts(project, rng, f), ["endpoint_id", "bucket"], total=Sum("n")):
        hists[row["endpoint_id"]][row["bucket"]] += row["total"]
    names = Endpoint.objects.filter(id__in=stats.keys()).values_list("id", "method", "route")
    result = []
    for ep_id, method, route in names:
        ep = stats[ep_id]
        result.append(
            {
                "id": ep_id,
                "method": method,
                "route": route,
                "requests": ep["requests"],
                "by_status": dict(sorted(ep["by_status"].items())),
                "conflicts": ep["conflicts"],
                "conflict_rate": _rate(ep["conflicts"], ep["requests"]),
                "p50_ms": quantile(hists[ep_id], 0.5),
                "p95_ms": quantile(hists[ep_id], 0.95),
                "precondition_coverage": (
                    _rate(ep["conditional"], ep["writes"]) if ep["writes"] else None
                ),
            }
        )
    result.sort(key=lambda e: (-e["requests"], e["route"], e["method"]))
    return result


def status_class(status: int) -> str:
    return f"{status // 100}xx"


def chart_grain(rng: TimeRange) -> timedelta:
    """The coarsest rollup grain whose buckets fit whole in the pages' chart buckets
    (monitor/charts.py: hours from two days, days from sixty)."""
    from monitor.charts import step_for

    step = step_for(rng)
    if step % DAY == timedelta(0):
        return DAY
    if step % HOUR == timedelta(0):
        return HOUR
    return MINUTE


def _chart_parts(project: Project, rng: TimeRange, f: Filters) -> list[QuerySet]:
    """Status rollups for a page chart, each row labelled `t` with its chart bucket (grouped in
    the database: a day of minutes becomes 96 quarter-hours before it reaches Python)."""
    from monitor.charts import step_for

    step = step_for(rng)
    return [
        qs.annotate(t=FloorTo("minute", step))
        for qs in status_parts(project, rng, f, chart_grain(rng))
    ]


def requests_per_minute(project: Project, rng: TimeRange, f: Filters = Filters()) -> dict:
    """Counts by status class plus conflicts per rollup bucket start (minutes, or hours and
    days where the chart's buckets are that wide), for the overview chart."""
    series: dict[str, dict] = defaultdict(lambda: defaultdict(int))
    for row in _grouped(_chart_parts(project, rng, f), ["t", "status", "cause"], total=Sum("n")):
        series[status_class(row["status"])][row["t"]] += row["total"]
        if row["cause"]:
            series["conflicts"][row["t"]] += row["total"]
    return series


def conflicts_per_minute_by_cause(project: Project, rng: TimeRange, f: Filters = Filters()):
    series: dict[str, dict] = defaultdict(lambda: defaultdict(int))
    parts = [qs.exclude(cause="") for qs in _chart_parts(project, rng, f)]
    for row in _grouped(parts, ["t", "cause"], total=Sum("n")):
        series[row["cause"]][row["t"]] += row["total"]
    return series
