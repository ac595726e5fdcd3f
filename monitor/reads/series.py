"""The time-series engine: rollup counts and latency histograms per UTC-aligned bucket, for
the API's `timeseries/`, the pages' charts (monitor/reads/charts.py) and the alerts' sparklines.

Buckets are floored in the database (monitor/reads/grains.py: FloorTo), so a bucket's rows are
summed before they reach Python; a bucket of an hour or more reads the hour or day rollups,
minutes only at the range's ragged edges (grains.pieces), so a 30-day chart reads hundreds of
rows per key, not tens of thousands. Quantiles come from the summed histograms by the one rule
of monitor/rules/latency.py; a bucket without requests has no quantile (None).

Latency series (`quantile_series`) are cut in the database: the histograms are summed per
output bucket and each reaches Python as one row (its buckets and counts as two arrays, in
order), where the quantile rule walks it. A day of minutes is 1,440 rows instead of every
histogram bucket of every minute. The unfiltered p95 per minute (the API's
`timeseries/?metric=p95_ms&interval=1m`) does not walk at all: it reads the p95 kept per minute
beside the histograms (monitor/pipeline/p95_minutes.py), the same values.
"""

from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import psycopg
from django.db import connections
from django.db.models import F, Sum

from monitor.models import ClientRollup, Endpoint, Project, ProjectP95Minute, ResourceRollup
from monitor.pipeline import p95_minutes
from monitor.reads.grains import EpochFloorTo, FloorTo, grain_for, pieces
from monitor.reads.timerange import TimeRange
from monitor.reads.totals import (
    PROJECT_LATENCY_MODELS,
    Filters,
    latency_parts,
    latency_rows_of,
    status_parts,
)
from monitor.rules.latency import bucket_value_ms, quantile, quantiles_of
from monitor.rules.timebuckets import EPOCH, MINUTE, floor, starts

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


def count_rows(
    project: Project,
    rng: TimeRange,
    step: timedelta,
    f: Filters = Filters(),  # noqa: B008 - frozen dataclass, never mutated
    by: tuple[str, ...] = (),
    *,
    conflicts_only: bool = False,
) -> Iterator[dict]:
    """Status rollup counts per bucket: dicts with `t` (the bucket start), the fields `by`
    (of the status rollup: status, cause, endpoint_id) and `n`. A bucket may come in several
    rows (one per rollup grain read): callers add them up."""
    for qs in status_parts(project, rng, f, grain_for(step)):
        if conflicts_only:
            qs = qs.exclude(cause="")
        yield from qs.annotate(t=FloorTo("minute", step)).values("t", *by).annotate(n=Sum("n"))


def histograms(
    project: Project,
    rng: TimeRange,
    step: timedelta,
    f: Filters = Filters(),  # noqa: B008
    *,
    by_endpoint: bool = False,
) -> dict:
    """Latency histograms per bucket: {key: {bucket start: {latency bucket: n}}}, the key
    being the endpoint id when `by_endpoint`, else None."""
    fields = ("t", "endpoint_id", "bucket") if by_endpoint else ("t", "bucket")
    hists: dict = defaultdict(lambda: defaultdict(lambda: defaultdict(int)))
    for qs in latency_parts(project, rng, f, grain_for(step)):
        rows = qs.annotate(t=FloorTo("minute", step)).values(*fields).annotate(n=Sum("n"))
        for row in rows:
            key = row["endpoint_id"] if by_endpoint else None
            hists[key][floor(row["t"], step)][row["bucket"]] += row["n"]
    return hists


def client_rows(project: Project, rng: TimeRange, step: timedelta, client: str) -> Iterator[dict]:
    """One client's requests and conflicts per bucket (`t`, `requests`, `conflicts`), from the
    client rollup (kept per minute)."""
    start, end = rng.minute_bounds()
    qs = ClientRollup.objects.filter(
        project=project, client=client, minute__gte=start, minute__lt=end
    )
    yield from (
        qs.annotate(t=FloorTo("minute", step))
        .values("t")
        .annotate(requests=Sum("requests"), conflicts=Sum("conflicts"))
    )


def resource_rows(
    project: Project, rng: TimeRange, step: timedelta, resource: str
) -> Iterator[dict]:
    """One resource's conflicts per bucket and cause (`t`, `cause`, `n`), from the resource
    rollup (kept per minute)."""
    start, end = rng.minute_bounds()
    qs = ResourceRollup.objects.filter(
        project=project, resource=resource, minute__gte=start, minute__lt=end
    )
    yield from qs.annotate(t=FloorTo("minute", step)).values("t", "cause").annotate(n=Sum("n"))


def quantiles(per_bucket: dict[datetime, dict[int, int]], q: float) -> dict[datetime, float]:
    """The q-quantile of each bucket's histogram."""
    return {t: quantile(hist, q) for t, hist in per_bucket.items()}


def quantile_series(
    project: Project,
    rng: TimeRange,
    step: timedelta,
    f: Filters = Filters(),  # noqa: B008
    qs: Sequence[float] = (0.95,),
    *,
    by_endpoint: bool = False,
    histograms: bool = False,
) -> dict:
    """Latency quantiles per bucket: {key: {bucket start: (requests, [value of each q in
    ms])}}, the key being the endpoint id when `by_endpoint`, else None. With `histograms`,
    each value also carries the bucket's histogram: (requests, [values], (latency buckets,
    counts)), for a chart that draws it (the endpoint page's heatmap).

    The database sums the histograms per time bucket and hands each one over as two arrays
    in bucket order (one row per time bucket); the rule of monitor/rules/latency.py
    (quantiles_of) walks them. Without an endpoint filter or grouping, the project-wide
    histograms are read (a tenth or less of the rows)."""
    wide = not by_endpoint and f.endpoint is None and not f.method and not f.route
    # Rollup rows are one per time bucket and latency bucket (and endpoint, but for the
    # project-wide histograms): where that is already the grouping asked for, a piece of the
    # step's own grain is read as it is.
    one_per_bucket = wide or by_endpoint or f.endpoint is not None
    key = ["endpoint_id"] if by_endpoint else []
    coarsest = grain_for(step)
    cut = pieces(rng, coarsest)
    if not cut:
        return {}
    if wide and step == MINUTE and tuple(qs) == (p95_minutes.Q,) and not histograms:
        return _p95_per_minute(project, cut)
    selects, params = [], []
    using = None
    for grain, lo, hi in cut:
        if wide:
            qs_ = PROJECT_LATENCY_MODELS[grain].objects.filter(
                project=project, minute__gte=lo, minute__lt=hi
            )
        else:
            qs_ = latency_rows_of(grain, project, rng, f, lo, hi)
        using = using or qs_.db
        if one_per_bucket and grain == step:
            # One row per minute (hour, day), key and bucket already: no grouping to do.
            rows = (
                qs_.order_by()
                .annotate(t=F("minute"), s_n=F("n"))
                .values("t", *key, "bucket", "s_n")
            )
        else:
            rows = (
                qs_.order_by()
                .annotate(t=FloorTo("minute", step))
                .values("t", *key, "bucket")
                .annotate(s_n=Sum("n"))
            )
        sql, p = rows.query.get_compiler(using=using).as_sql()
        selects.append(sql)
        params.extend(p)
    by = ", ".join(["t", *key])
    pieces_sql = " UNION ALL ".join(selects)
    vendor = connections[using].vendor
    # Pieces that meet on a bucket boundary never share a bucket: each can be handed over on
    # its own; otherwise a bucket's rows from two pieces are summed first.
    aligned = all(floor(lo, step) == lo for _, lo, _ in cut[1:])
    if vendor == "postgresql":
        # One row per time bucket carrying its histogram as two arrays: a month of hours is
        # 721 rows, not 90,000 (a running sum in a window function over them was slower). The
        # bucket comes back as seconds since the epoch, cheaper to read than a timestamp.
        head = ", ".join(["CAST(date_part('epoch', t) AS BIGINT)", *key])

        def arrays(rows_sql: str) -> str:
            return (
                f"SELECT {head}, array_agg(bucket), array_agg(n) FROM ({rows_sql}) AS h "
                f"GROUP BY {by}"
            )

        if aligned:
            sql = " UNION ALL ".join(
                arrays(f"SELECT {by}, bucket, CAST(s_n AS BIGINT) AS n FROM ({one}) AS p")
                for one in selects
            )
        else:
            sql = arrays(
                f"SELECT {by}, bucket, CAST(SUM(s_n) AS BIGINT) AS n "
                f"FROM ({pieces_sql}) AS p GROUP BY {by}, bucket"
            )
    else:
        sql = (
            f"SELECT {by}, bucket, SUM(s_n) FROM ({pieces_sql}) AS p "
            f"GROUP BY {by}, bucket ORDER BY {by}, bucket"
        )
    out: dict = defaultdict(dict)
    rows = _fetch(connections[using], sql, params)
    if vendor != "postgresql":  # rows of (time, key, bucket, n): grouped here
        grouped: dict = {}
        for *head, bucket, n in rows:
            acc = grouped.setdefault(tuple(head), ([], []))
            acc[0].append(bucket)
            acc[1].append(n)
        rows = [(*head, b, n) for head, (b, n) in grouped.items()]
    for row in rows:
        t = row[0]
        if isinstance(t, int):
            t = EPOCH + timedelta(seconds=t)
        elif isinstance(t, str):  # SQLite hands times back as text or naive
            t = datetime.fromisoformat(t)
        if t.tzinfo is None:
            t = t.replace(tzinfo=UTC)
        k = row[1] if by_endpoint else None
        buckets, counts = row[-2], row[-1]
        total = sum(counts)
        if total:
            point = (int(total), quantiles_of(buckets, counts, qs))
            out[k][floor(t, step)] = (*point, (buckets, counts)) if histograms else point
    return out


def _p95_per_minute(project: Project, cut: list) -> dict:
    """quantile_series of the project-wide p95 per minute, read from the p95 kept per minute
    (monitor/pipeline/p95_minutes.py): the same values as the walk of the minute histograms,
    one row per minute instead of a hundred or so."""
    out: dict = {}
    values: dict[int, float] = {}
    for _, lo, hi in cut:  # a per-minute series is cut into minute pieces only
        rows = (
            ProjectP95Minute.objects.filter(
                project=project, minute__gte=lo, minute__lt=hi, requests__gt=0
            )
            # Seconds since the epoch: an integer loads several times faster than a timestamp.
            .annotate(t=EpochFloorTo("minute", MINUTE))
            .values_list("t", "requests", "bucket")
        )
        for t, n, bucket in rows:
            value = values.get(bucket)
            if value is None:
                value = values[bucket] = bucket_value_ms(bucket)
            out[EPOCH + timedelta(seconds=t)] = (n, [value])
    return {None: out} if out else {}


def _fetch(connection, sql: str, params: list) -> list[tuple]:
    """The rows of a statement; on Postgres read in the binary format, where a day of minute
    histograms (some 140,000 array elements) loads about four times faster than as text.
    Django binds parameters on the client, and such cursors cannot ask for binary results: the
    statement is composed the same way first, then run on a plain cursor of the connection."""
    with connection.cursor() as cursor, connection.wrap_database_errors:
        if connection.vendor != "postgresql":
            cursor.execute(sql, params)
            return cursor.fetchall()
        statement = cursor.mogrify(sql, params)
        with psycopg.Cursor(cursor.connection) as raw:
            raw.execute(statement, prepare=False, binary=True)
            return raw.fetchall()


# -- the API's timeseries/ ---------------------------------------------------------------------
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


def buckets(rng: TimeRange, step: timedelta) -> list[datetime]:
    """Every bucket start from the one holding rng.start up to (not including) rng.end."""
    return starts(rng.start, rng.end, step)


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


def timeseries(project: Project, rng: TimeRange, q: Query, f: Filters | None = None) -> dict:
    """{"series": [{"name", "points": [{"t", "value"}]}]} for the range, checked by `check`;
    `t` is the bucket's start as an RFC 3339 string in UTC."""
    check(rng, q)
    f = f or Filters()
    step = INTERVALS[q.interval]
    group = "status" if q.metric == "status" else q.group
    stamps = buckets(rng, step)
    if q.metric == "p95_ms":
        values, weights = _p95(project, rng, stamps, step, group, f)
        empty = None
    else:
        values, weights = _counts(project, rng, q, stamps, step, group, f)
        empty = 0
    if group is None and not values:
        values, weights = {q.metric: [empty] * len(stamps)}, {q.metric: 0}
    names = _names(values, group)
    isos = [t.strftime("%Y-%m-%dT%H:%M:%SZ") for t in stamps]
    return {
        "series": [
            {
                "name": names[key],
                "points": [
                    {"t": iso, "value": v} for iso, v in zip(isos, values[key], strict=True)
                ],
            }
            for key in _order(weights, group)
        ]
    }


def _p95(project, rng, stamps: list[datetime], step, group, f: Filters) -> tuple[dict, dict]:
    """{series key: [p95 of each bucket, None without requests]} and each series' requests."""
    points = quantile_series(project, rng, step, f, (0.95,), by_endpoint=group == "endpoint")
    index = {t: i for i, t in enumerate(stamps)}
    values, weights = {}, {}
    for key, per_bucket in points.items():
        row = values[key or "p95_ms"] = [None] * len(stamps)
        for t, (_, (p95,)) in per_bucket.items():
            i = index.get(t)
            if i is not None:
                row[i] = p95
        weights[key or "p95_ms"] = sum(n for n, _ in per_bucket.values())
    return values, weights


def _counts(project, rng, q: Query, stamps, step, group, f: Filters) -> tuple[dict, dict]:
    """{series key: [count of each bucket]} and each series' total. Each rollup piece is
    summed per bucket and key in the database, the bucket as seconds since the epoch, and the
    rows are read as plain integers (a day of minutes grouped by status is some 12,000 rows:
    timestamps and Django's per-row conversion cost more than the query); pieces that share a
    bucket are added up here."""
    field = {"status": "status", "cause": "cause", "endpoint": "endpoint_id"}.get(group)
    cols = ", ".join(["t", *([field] if field else [])])
    selects, params, using = [], [], None
    for qs in status_parts(project, rng, f, grain_for(step)):
        if q.metric == "conflicts":
            qs = qs.exclude(cause="")
        using = using or qs.db
        grouped = (
            qs.order_by()
            .annotate(t=EpochFloorTo("minute", step))
            .values("t", *([field] if field else []))
            .annotate(s_n=Sum("n"))
        )
        sql, p = grouped.query.get_compiler(using=using).as_sql()
        selects.append(f"SELECT {cols}, CAST(s_n AS BIGINT) FROM ({sql}) AS p")
        params.extend(p)
    first = int(stamps[0].timestamp()) if stamps else 0
    seconds = int(step.total_seconds())
    values: dict = {}
    weights: dict = defaultdict(int)
    rows = _fetch(connections[using], " UNION ALL ".join(selects), params) if selects else []
    for t, *by, n in rows:
        key = by[0] if field else q.metric
        row = values.get(key)
        if row is None:
            row = values[key] = [0] * len(stamps)
        i = (t - first) // seconds
        if 0 <= i < len(row):
            row[i] += n
        weights[key] += n
    return values, weights


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
