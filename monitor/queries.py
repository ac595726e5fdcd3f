"""Read models for the API and the pages. Totals come from rollups, never from raw rows."""

from collections import defaultdict
from dataclasses import dataclass

from django.db.models import QuerySet, Sum

from monitor.latency import quantile
from monitor.models import Endpoint, LatencyRollup, Project, StatusRollup
from monitor.timerange import TimeRange


@dataclass(frozen=True)
class Filters:
    """Filters that rollups can answer; None means not filtered."""

    endpoint: int | None = None
    method: str | None = None
    route: str | None = None
    status: int | None = None
    cause: str | None = None


def _rollup_rows(
    model, project: Project, rng: TimeRange, f: Filters, *, by_status: bool
) -> QuerySet:
    start, end = rng.minute_bounds()
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
    return _rollup_rows(StatusRollup, project, rng, f, by_status=True)


def latency_rows(project: Project, rng: TimeRange, f: Filters = Filters()) -> QuerySet:
    return _rollup_rows(LatencyRollup, project, rng, f, by_status=False)


def _rate(part: int, whole: int) -> float:
    return round(part / whole, 6) if whole else 0.0


def summary(project: Project, rng: TimeRange, f: Filters = Filters()) -> dict:
    """Totals for the range: requests, by status, conflicts, conflict rate, by cause, p95."""
    by_status: dict[str, int] = defaultdict(int)
    by_cause: dict[str, int] = defaultdict(int)
    for row in status_rows(project, rng, f).values("status", "cause").annotate(total=Sum("n")):
        by_status[str(row["status"])] += row["total"]
        if row["cause"]:
            by_cause[row["cause"]] += row["total"]
    requests = sum(by_status.values())
    conflicts = sum(by_cause.values())
    hist = {
        row["bucket"]: row["total"]
        for row in latency_rows(project, rng, f).values("bucket").annotate(total=Sum("n"))
    }
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
    for row in (
        status_rows(project, rng, f)
        .values("endpoint_id", "status", "cause")
        .annotate(total=Sum("n"), writes=Sum("writes"), conditional=Sum("conditional_writes"))
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
    hists: dict[int, dict[int, int]] = defaultdict(dict)
    for row in (
        latency_rows(project, rng, f).values("endpoint_id", "bucket").annotate(total=Sum("n"))
    ):
        hists[row["endpoint_id"]][row["bucket"]] = row["total"]
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


def requests_per_minute(project: Project, rng: TimeRange, f: Filters = Filters()) -> dict:
    """Per-minute counts by status class plus conflicts, for the overview chart."""
    series: dict[str, dict] = defaultdict(lambda: defaultdict(int))
    for row in (
        status_rows(project, rng, f).values("minute", "status", "cause").annotate(total=Sum("n"))
    ):
        series[status_class(row["status"])][row["minute"]] += row["total"]
        if row["cause"]:
            series["conflicts"][row["minute"]] += row["total"]
    return series


def conflicts_per_minute_by_cause(project: Project, rng: TimeRange, f: Filters = Filters()):
    series: dict[str, dict] = defaultdict(lambda: defaultdict(int))
    qs = status_rows(project, rng, f).exclude(cause="")
    for row in qs.values("minute", "cause").annotate(total=Sum("n")):
        series[row["cause"]][row["minute"]] += row["total"]
    return series
