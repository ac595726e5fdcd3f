"""Totals of a range for the API, the pages and the alerts: requests, statuses, causes,
latency quantiles, per project and per endpoint. Read from the rollups (pieces of minute, hour
and day rows: monitor/reads/grains.py), never from raw rows.
"""

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import QuerySet, Sum

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
from monitor.reads.grains import pieces
from monitor.reads.timerange import TimeRange
from monitor.rules.latency import quantile
from monitor.rules.timebuckets import DAY, HOUR, MINUTE

STATUS_MODELS = {MINUTE: StatusRollup, HOUR: StatusHourRollup, DAY: StatusDayRollup}
LATENCY_MODELS = {MINUTE: LatencyRollup, HOUR: LatencyHourRollup, DAY: LatencyDayRollup}


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
