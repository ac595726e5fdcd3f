"""Time series from the rollups: one series per status, cause or endpoint, buckets aligned
to UTC (minutes, 5 minutes, hours, days since the Unix epoch), every bucket present (zero-filled).

An interval of an hour reads the hour rollups, a day the day rollups, minutes only at the
range's ragged edges (monitor/queries.py: pieces), so a 30-day chart reads hundreds of rows per
key, not tens of thousands.

`p95_ms` per bucket comes from the latency histograms (within 10% of the true value, see
monitor/latency.py); a bucket without requests has no p95 and is null.
"""

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db import connections
from django.db.models import F, Sum
from django.db.models.functions import Trunc

from monitor.latency import bucket_upper_ms, quantile
from monitor.models import Endpoint, Project
from monitor.queries import Filters, latency_parts, latency_rows, status_parts
from monitor.timerange import TimeRange

INTERVALS = {
    "1m": timedelta(minutes=1),
    "5m": timedelta(minutes=5),
    "1h": timedelta(hours=1),
    "1d": timedelta(days=1),
}
METRICS = ("requests", "conflicts", "status", "p95_ms")
GROUPS = ("status", "cause", "endpoint")
# 24 hours at one minute (1,440) fits; more points than this is a chart no one can read and a
# query that scans too much.
MAX_POINTS = 1500
# Grouped by endpoint: the busiest ones only, so an API with thousands of routes stays bounded.
MAX_ENDPOINT_SERIES = 20
NO_CAUSE = "none"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class SeriesError(ValueError):
    """A bad timeseries parameter; `param` names it."""

    def __init__(self, param: str, message: str):
        super().__init__(f"{param}: {message}")
        self.param = param


@dataclass(frozen=True)
class Query:
    metric: str = "requests"
    interval: str = "1m"
    group: str | None = None


def floor(t: datetime, step: timedelta) -> datetime:
    """The start of the UTC-aligned bucket of width `step` that holds `t`."""
    return _EPOCH + ((t - _EPOCH) // step) * step


def buckets(rng: TimeRange, step: timedelta) -> list[datetime]:
    """Every bucket start from the one holding rng.start up to (not including) rng.end."""
    first = floor(rng.start, step)
    count = -(-(rng.end - first) // step)  # ceiling division
    return [first + i * step for i in range(count)]


def point_count(rng: TimeRange, interval: str) -> int:
    step = INTERVALS[interval]
    return -(-(rng.end - floor(rng.start, step)) // step)


def default_interval(rng: TimeRange) -> str:
    """The finest interval whose point count fits MAX_POINTS."""
    for name in INTERVALS:
        if point_count(rng, name) <= MAX_POINTS:
            return name
    return "1d"


def check(rng: TimeRange, q: Query) -> None:
    """Raise SeriesError naming the parameter when the query cannot be answered."""
    if q.metric not in METRICS:
        raise SeriesError(
            "metric", f"unknown metric {q.metric[:40]!r}; one of {', '.join(METRICS)}"
        )
    if q.interval not in INTERVALS:
        raise SeriesError(
            "interval", f"unknown interval {q.interval[:40]!r}; one of {', '.join(INTERVALS)}"
        )
    if q.group is not None and q.group not in GROUPS:
        raise SeriesError("group", f"unknown group {q.group[:40]!r}; one of {', '.join(GROUPS)}")
    if q.metric == "status" and q.group not in (None, "status"):
        raise SeriesError("group", "metric=status is always one series per status")
    if q.metric == "p95_ms" and q.group in ("status", "cause"):
        raise SeriesError("group", "p95_ms can be grouped by endpoint only")
    points = point_count(rng, q.interval)
    if points > MAX_POINTS:
        raise SeriesError(
            "interval",
            f"{q.interval} gives {points} points for this range, over the maximum of "
            f"{MAX_POINTS}; use a larger interval or a shorter range",
        )


def _bucket_expr(interval: str):
    """Group in the database by hour or day; by minute for 1m/5m (floored in Python)."""
    if interval == "1h":
        return Trunc("minute", "hour", tzinfo=UTC)
    if interval == "1d":
        return Trunc("minute", "day", tzinfo=UTC)
    return F("minute")


def timeseries(project: Project, rng: TimeRange, q: Query, f: Filters | None = None) -> dict:
    """{"series": [{"name", "points": [{"t", "value"}]}]} for the range, checked by `check`;
    `t` is the bucket's start as an RFC 3339 string in UTC."""
    check(rng, q)
    f = f or Filters()
    step = INTERVALS[q.interval]
    starts = buckets(rng, step)
    group = "status" if q.metric == "status" else q.group
    if q.metric == "p95_ms":
        series, weights = _p95(project, rng, q.interval, step, group, f)
        empty = None
    else:
        series = _counts(project, rng, q, step, group, f)
        weights = {key: sum(per_bucket.values()) for key, per_bucket in series.items()}
        empty = 0
    if group is None and not series:
        series, weights = {q.metric: {}}, {q.metric: 0}
    names = _names(series, group)
    stamps = [(t, t.strftime("%Y-%m-%dT%H:%M:%SZ")) for t in starts]
    return {
        "series": [
            {
                "name": names[key],
                "points": [{"t": iso, "value": series[key].get(t, empty)} for t, iso in stamps],
            }
            for key in _order(weights, group)
        ]
    }


def _grain(interval: str) -> timedelta:
    """The coarsest rollup grain an interval can read: its own width for 1h and 1d."""
    return INTERVALS[interval] if interval in ("1h", "1d") else INTERVALS["1m"]


def _counts(project, rng, q: Query, step, group, f: Filters) -> dict:
    field = {"status": "status", "cause": "cause", "endpoint": "endpoint_id"}.get(group)
    values = ["b", field] if field else ["b"]
    series: dict = defaultdict(lambda: defaultdict(int))
    default_key = q.metric
    for rows in status_parts(project, rng, f, _grain(q.interval)):
        if q.metric == "conflicts":
            rows = rows.exclude(cause="")
        grouped = rows.annotate(b=_bucket_expr(q.interval)).values(*values)
        for row in grouped.annotate(total=Sum("n")):
            key = row[field] if field else default_key
            series[key][floor(_as_datetime(row["b"]), step)] += row["total"]
    return series


def _p95(project, rng, interval: str, step, group, f: Filters) -> tuple[dict, dict]:
    """p95 per bucket (and endpoint): the first histogram bucket whose running count reaches
    95% of the bucket's requests — monitor.latency.quantile's rule, computed in the database
    with window functions so that only one row per point comes back."""
    if interval == "5m":
        # No portable SQL for 5-minute floors: merge the minutes' histograms here.
        return _p95_merged_in_python(project, rng, step, group, f)
    by_endpoint = group == "endpoint"
    keys = "b, endpoint_id" if by_endpoint else "b"
    fields = ["b", "endpoint_id", "bucket"] if by_endpoint else ["b", "bucket"]
    # One histogram query per piece (minute edges, whole hours, whole days), summed again.
    selects, params = [], []
    database = "default"
    for part in latency_parts(project, rng, f, _grain(interval)):
        inner = part.annotate(b=_bucket_expr(interval)).values(*fields).annotate(total=Sum("n"))
        database = inner.db  # the replica when pages read there (monitor/routers.py)
        sql, part_params = inner.query.sql_with_params()
        selects.append(f"SELECT * FROM ({sql}) AS piece{len(selects)}")
        params.extend(part_params)
    if not selects:
        return defaultdict(dict), defaultdict(int)
    union = " UNION ALL ".join(selects)
    query = f"""
        SELECT {keys}, MIN(bucket), MAX(whole) FROM (
            SELECT {keys}, bucket,
                SUM(total) OVER (PARTITION BY {keys} ORDER BY bucket) AS running,
                SUM(total) OVER (PARTITION BY {keys}) AS whole
            FROM (
                SELECT {keys}, bucket, SUM(total) AS total FROM ({union}) AS pieces
                GROUP BY {keys}, bucket
            ) AS histogram
        ) AS cumulative
        WHERE running * 100 >= whole * 95
        GROUP BY {keys}
    """
    series: dict = defaultdict(dict)
    weights: dict = defaultdict(int)
    with connections[database].cursor() as cursor:
        cursor.execute(query, params)
        for row in cursor.fetchall():
            key = row[1] if by_endpoint else "p95_ms"
            t = floor(_as_datetime(row[0]), step)
            series[key][t] = round(bucket_upper_ms(row[-2]), 3)
            weights[key] += row[-1]
    return series, weights


def _as_datetime(value) -> datetime:
    """Raw SQL gives SQLite's datetimes as text; Postgres gives datetimes."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _p95_merged_in_python(project, rng, step, group, f: Filters) -> tuple[dict, dict]:
    hists: dict = defaultdict(lambda: defaultdict(lambda: defaultdict(int)))
    values = ["minute", "endpoint_id", "bucket"] if group == "endpoint" else ["minute", "bucket"]
    for row in latency_rows(project, rng, f).values(*values).annotate(total=Sum("n")):
        key = row["endpoint_id"] if group == "endpoint" else "p95_ms"
        hists[key][floor(row["minute"], step)][row["bucket"]] += row["total"]
    series = {
        key: {t: quantile(hist, 0.95) for t, hist in per_bucket.items()}
        for key, per_bucket in hists.items()
    }
    weights = {
        key: sum(sum(hist.values()) for hist in per_bucket.values())
        for key, per_bucket in hists.items()
    }
    return series, weights


def _order(weights: dict, group: str | None) -> list:
    """Statuses in order; causes and endpoints busiest first (endpoints cut to the busiest)."""
    if group == "status":
        return sorted(weights)
    by_total = sorted(weights, key=lambda k: (-weights[k], str(k)))
    return by_total[:MAX_ENDPOINT_SERIES] if group == "endpoint" else by_total


def _names(series: dict, group: str | None) -> dict:
    if group == "endpoint":
        rows = Endpoint.objects.filter(id__in=list(series)).values_list("id", "method", "route")
        return {ep_id: f"{method} {route}" for ep_id, method, route in rows}
    if group == "cause":
        return {key: key or NO_CAUSE for key in series}
    return {key: str(key) for key in series}
