"""Chart data for the pages, from the time-series engine (monitor/reads/series.py): evenly
spaced, zero-filled buckets whose width fits the range (`step_for`), as Chart.js takes them
({"step_seconds", "labels", "series": [{"name", "data"}], "markers": [...]}).

A series may carry a `role`: "previous" is the same quantity over the period of the same
length just before the range, shifted onto the range's buckets (drawn as a faint line), and
`axis: "right"` puts a series on its own scale. Markers (incidents, and any other kind a page
adds) are a list that static/monitor/js/charts.js draws on every chart that has them.
"""

from bisect import bisect_left
from collections import defaultdict
from datetime import UTC, datetime, timedelta

from monitor.models import Project
from monitor.reads import series as engine
from monitor.reads.conflicts import CLIENT, rollup_parts
from monitor.reads.grains import EpochFloorTo, grain_for, summed
from monitor.reads.timerange import TimeRange
from monitor.reads.totals import Filters, previous, status_parts, tagged
from monitor.rules.causes import CAUSES
from monitor.rules.latency import MAX_BUCKET, bucket_upper_ms
from monitor.rules.timebuckets import EPOCH, HOUR, floor, starts

STEPS = [
    (timedelta(hours=2), timedelta(minutes=1)),
    (timedelta(hours=12), timedelta(minutes=5)),
    (timedelta(days=2), timedelta(minutes=15)),
    (timedelta(days=8), timedelta(hours=1)),
    (timedelta(days=60), timedelta(hours=6)),
]
STATUS_CLASSES = ["2xx", "3xx", "4xx", "5xx", "1xx"]
PREVIOUS = "previous period"
# Display bands of the latency heatmap, in ms: a 1-2-5 scale. Each latency bucket of the rollups
# goes to the first band whose upper edge is at or above the bucket's upper bound (read from
# monitor/rules/latency.py, whatever width the buckets have).
HEATMAP_EDGES = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 30000, 60000]
# The last latency bucket of each band (-1: none), so that the database sums requests per band.
BAND_LAST_BUCKETS = [
    max((b for b in range(MAX_BUCKET + 1) if bucket_upper_ms(b) <= edge), default=-1)
    for edge in HEATMAP_EDGES
]
# The heatmap band of each latency bucket (the first band whose last bucket is at or above it).
BAND_OF_BUCKET = [bisect_left(BAND_LAST_BUCKETS, b) for b in range(MAX_BUCKET + 1)]


def step_for(rng: TimeRange) -> timedelta:
    for limit, step in STEPS:
        if rng.span <= limit:
            return step
    return timedelta(days=1)


def status_class(status: int) -> str:
    return f"{status // 100}xx"


def bucketize(
    series: dict[str, dict[datetime, float | None]],
    rng: TimeRange,
    order: list[str],
    empty: float | None = 0,
) -> dict:
    """The chart of `series` ({name: {bucket start: value}}) over the range: one label per
    bucket, `empty` where a series has no value, series in `order` then by name."""
    step = step_for(rng)
    labels = starts(rng.start, rng.end, step)
    index = {t: i for i, t in enumerate(labels)}
    names = [n for n in order if n in series] + sorted(n for n in series if n not in order)
    out = []
    for name in names:
        data = [empty] * len(labels)
        for t, value in series[name].items():
            i = index.get(floor(t, step))
            if i is not None:
                data[i] = value if data[i] is None else data[i] + value
        out.append({"name": name, "data": data})
    return {
        "step_seconds": int(step.total_seconds()),
        "labels": [t.strftime("%Y-%m-%dT%H:%M:%SZ") for t in labels],
        "series": out,
    }


def shifted(values: dict[datetime, float | None], rng: TimeRange) -> dict[datetime, float | None]:
    """A previous period's values moved forward by the range's span onto its buckets."""
    return {t + rng.span: v for t, v in values.items()}


def with_previous(chart: dict, values: dict[datetime, float | None], rng: TimeRange, empty=0):
    """Add the previous period's line (`values` over `previous(rng)`, keyed by bucket start)."""
    line = bucketize({PREVIOUS: shifted(values, rng)}, rng, [PREVIOUS], empty=empty)
    data = line["series"][0]["data"] if line["series"] else [empty] * len(chart["labels"])
    chart["series"].append({"name": PREVIOUS, "data": data, "role": "previous"})
    return chart


def previous_step(rng: TimeRange) -> timedelta:
    """The bucket width the previous period's faint line is read at: an hour where the chart's
    buckets are shorter and the range spans hours (the hour rollups instead of a day of minute
    rows, for a line that only gives context), else the chart's own."""
    step = step_for(rng)
    return HOUR if step < HOUR and rng.span >= timedelta(hours=6) else step


def spread(values: dict[datetime, float], coarse: timedelta, step: timedelta) -> dict:
    """Counts of `coarse` buckets shared evenly among the `step` buckets they hold (the
    total stays the same)."""
    k = coarse // step
    if k <= 1:
        return values
    return {t + i * step: n / k for t, n in values.items() for i in range(k)}


def _status_counts(
    project, f: Filters, periods: list[tuple[TimeRange, timedelta]]
) -> list[tuple[dict, dict]]:
    """For each (range, bucket width): requests per bucket by status class, and conflicts per
    bucket by cause. Every range's rollup pieces are read in one statement; buckets come back
    as seconds since the epoch (cheaper to read than timestamps)."""
    rows = summed(
        [
            qs.annotate(t=EpochFloorTo("minute", step))
            for i, (rng, step) in enumerate(periods)
            for qs in tagged(status_parts(project, rng, f, grain_for(step)), i)
        ],
        ["period", "t", "status", "cause"],
        ["n"],
    )
    out = [
        (defaultdict(lambda: defaultdict(int)), defaultdict(lambda: defaultdict(int)))
        for _ in periods
    ]
    times: dict[int, datetime] = {}
    for period, seconds, status, cause, n in rows:
        t = times.get(seconds)
        if t is None:
            t = times[seconds] = EPOCH + timedelta(seconds=seconds)
        by_class, by_cause = out[period]
        by_class[status_class(status)][t] += n
        if cause:
            by_cause[cause][t] += n
    return out


def _totals(per_name: dict[str, dict]) -> dict[datetime, int]:
    out: dict[datetime, int] = defaultdict(int)
    for values in per_name.values():
        for t, n in values.items():
            out[t] += n
    return out


def traffic_and_causes(
    project: Project,
    rng: TimeRange,
    f: Filters = Filters(),  # noqa: B008 - frozen dataclass, never mutated
    *,
    compare: bool = True,
) -> tuple[dict, dict]:
    """Two charts from one read per period: requests per bucket by status class, and conflicts
    per bucket by cause (their own chart and scale: a few conflicts beside a thousand requests
    a minute would be a flat line). With `compare`, each has the previous period's total as
    a faint line (per hour, shared among the hour's buckets, on ranges of 6 hours or more)."""
    step = step_for(rng)
    coarse = previous_step(rng)
    periods = [(rng, step), (previous(rng), coarse)] if compare else [(rng, step)]
    counts = _status_counts(project, f, periods)
    by_class, by_cause = counts[0]
    traffic = bucketize(by_class, rng, STATUS_CLASSES)
    causes = bucketize(by_cause, rng, list(CAUSES))
    if compare:
        prev_class, prev_cause = counts[1]
        with_previous(traffic, spread(_totals(prev_class), coarse, step), rng)
        with_previous(causes, spread(_totals(prev_cause), coarse, step), rng)
    return traffic, causes


def latency_charts(
    project: Project,
    rng: TimeRange,
    f: Filters = Filters(),  # noqa: B008
    *,
    compare: bool = True,
) -> tuple[dict, dict]:
    """The latency lines (p50, p95, and the previous period's p95 with `compare`) and the
    latency heatmap. The histograms are summed per chart bucket in the database
    (series.quantile_series: one row per bucket whatever the width of the histogram's
    buckets), and both the quantiles and the heatmap's bands come from that one read."""
    step = step_for(rng)
    points = engine.quantile_series(project, rng, step, f, (0.5, 0.95), histograms=True)
    points = points.get(None, {})
    lines = {
        "p50 ms": {t: values[0] for t, (_, values, _) in points.items()},
        "p95 ms": {t: values[1] for t, (_, values, _) in points.items()},
    }
    chart = bucketize(lines, rng, list(lines), empty=None)
    if not chart["series"]:
        chart["series"] = [{"name": n, "data": [None] * len(chart["labels"])} for n in lines]
    if compare:
        # The previous period's p95 per hour where the chart's buckets are shorter: a faint
        # line for context, read from the hour rollups instead of a day of minute histograms.
        coarse = previous_step(rng)
        before = engine.quantile_series(project, previous(rng), coarse, f, (0.95,)).get(None, {})
        values = {t: v[0] for t, (_, v) in before.items()}
        if coarse != step:
            values = {t + k * step: v for t, v in values.items() for k in range(coarse // step)}
        with_previous(chart, values, rng, empty=None)
        chart["series"][-1]["name"] = "p95 ms, " + PREVIOUS
    # The heatmap from the same histograms: one read of the range's latency rollups.
    per_band = {t: _bands(buckets, counts) for t, (_, _, (buckets, counts)) in points.items()}
    return chart, heatmap(per_band, rng)


def _bands(buckets: list[int], counts: list[int]) -> dict[int, int]:
    """Requests per heatmap band of one histogram: band i holds the latency buckets up to
    BAND_LAST_BUCKETS[i] (after band i - 1's), the last band every slower one."""
    out: dict[int, int] = defaultdict(int)
    for bucket, n in zip(buckets, counts, strict=True):
        if 0 <= bucket <= MAX_BUCKET:
            out[BAND_OF_BUCKET[bucket]] += n
        else:
            out[bisect_left(BAND_LAST_BUCKETS, bucket)] += n
    return out


def _band_label(lo: float, hi: float | None) -> str:
    def ms(v: float) -> str:
        return f"{v / 1000:g} s" if v >= 1000 else f"{v:g} ms"

    if hi is None:
        return f"> {ms(lo)}"
    return f"≤ {ms(hi)}" if lo == 0 else f"{ms(lo)} – {ms(hi)}"


def heatmap(per_band: dict[datetime, dict[int, int]], rng: TimeRange) -> dict:
    """Requests per time bucket × latency band ({bucket start: {band: n}}, bands of
    HEATMAP_EDGES): {"step_seconds", "labels", "bands": [label…] (fastest first), "cells":
    [[time index, band index, n]…], "max"}. Only the bands from the fastest to the slowest one
    with requests are kept."""
    step = step_for(rng)
    labels = starts(rng.start, rng.end, step)
    index = {t: i for i, t in enumerate(labels)}
    counts: dict[tuple[int, int], int] = defaultdict(int)
    for t, bands in per_band.items():
        i = index.get(floor(t, step))
        if i is None:
            continue
        for band, n in bands.items():
            if n:
                counts[(i, band)] += n
    bands = [0, *HEATMAP_EDGES]
    used = sorted({b for _, b in counts}) or [0]
    low, high = used[0], used[-1]
    return {
        "step_seconds": int(step.total_seconds()),
        "labels": [t.strftime("%Y-%m-%dT%H:%M:%SZ") for t in labels],
        "bands": [
            _band_label(bands[b], bands[b + 1] if b + 1 < len(bands) else None)
            for b in range(low, high + 1)
        ],
        "cells": [[i, b - low, n] for (i, b), n in sorted(counts.items())],
        "max": max(counts.values(), default=0),
    }


def client_activity(project: Project, rng: TimeRange, client: str) -> dict:
    """One client's requests per bucket, and its conflicts on a scale of their own."""
    step = step_for(rng)
    requests: dict[datetime, int] = defaultdict(int)
    conflicts: dict[datetime, int] = defaultdict(int)
    # The client rollups of the coarsest grain the buckets allow (hours for a week), in one
    # statement.
    parts = rollup_parts(CLIENT, project, rng, coarsest=grain_for(step), client=client)
    for seconds, n_requests, n_conflicts in summed(
        [qs.annotate(t=EpochFloorTo("minute", step)) for qs in parts],
        ["t"],
        ["requests", "conflicts"],
    ):
        t = EPOCH + timedelta(seconds=seconds)
        requests[t] += n_requests
        conflicts[t] += n_conflicts
    chart = bucketize({"requests": requests, "conflicts": conflicts}, rng, ["requests"])
    if len(chart["series"]) == 1:
        chart["series"].append({"name": "conflicts", "data": [0] * len(chart["labels"])})
    chart["series"][1]["axis"] = "right"
    return chart


def resource_conflicts(project: Project, rng: TimeRange, resource: str) -> dict:
    """One resource's conflicts per bucket by cause."""
    counts: dict[str, dict] = defaultdict(lambda: defaultdict(int))
    for row in engine.resource_rows(project, rng, step_for(rng), resource):
        counts[row["cause"]][row["t"]] += row["n"]
    return bucketize(counts, rng, list(CAUSES))


def with_markers(chart: dict, incidents=(), deploys=()) -> dict:
    """Add markers to a bucketized chart: incidents as {"kind": "incident", "at": bucket index,
    "until": bucket index or None while firing, "label", "id"}, deploys as {"kind": "deploy",
    "at", "until": None, "label": the version, "id", "ts"}; markers outside the chart are left
    out. Labels are data (rule names and versions are user text) and charts.js draws them on the
    canvas, never as HTML."""
    step = timedelta(seconds=chart["step_seconds"])
    if not chart["labels"]:
        chart["markers"] = []
        return chart
    first = datetime.strptime(chart["labels"][0], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    last = len(chart["labels"]) - 1
    end = first + step * len(chart["labels"])

    def index(t: datetime) -> int:
        return max(0, min(last, (t - first) // step))

    chart["markers"] = [
        {
            "kind": "incident",
            "at": index(i.opened_at),
            "until": index(i.resolved_at) if i.resolved_at else None,
            "label": i.rule.name,
            "id": i.id,
        }
        for i in incidents
    ] + [
        {
            "kind": "deploy",
            "at": index(d.ts),
            "until": None,
            "label": d.version,
            "id": d.id,
            "ts": d.ts.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        for d in deploys
        if first <= d.ts < end
    ]
    return chart
