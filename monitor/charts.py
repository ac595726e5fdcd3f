"""Chart data for the pages: per-minute rollup series folded into evenly spaced buckets."""

from datetime import UTC, datetime, timedelta

from django.db.models import Sum

from monitor.buckets import FloorTo
from monitor.latency import quantile
from monitor.timerange import TimeRange

STEPS = [
    (timedelta(hours=2), timedelta(minutes=1)),
    (timedelta(hours=12), timedelta(minutes=5)),
    (timedelta(days=2), timedelta(minutes=15)),
    (timedelta(days=8), timedelta(hours=1)),
    (timedelta(days=60), timedelta(hours=6)),
]


def step_for(rng: TimeRange) -> timedelta:
    for limit, step in STEPS:
        if rng.span <= limit:
            return step
    return timedelta(days=1)


def _floor(ts: datetime, step: timedelta) -> datetime:
    epoch = datetime(1970, 1, 1, tzinfo=ts.tzinfo)
    return ts - ((ts - epoch) % step)


def bucketize(series: dict[str, dict[datetime, int]], rng: TimeRange, order: list[str]) -> dict:
    """{"step_seconds", "labels": [ISO times], "series": [{"name", "data"}]} with zero-filled
    buckets, so that a quiet minute shows as zero rather than a gap."""
    step = step_for(rng)
    start = _floor(rng.start, step)
    labels = []
    t = start
    while t < rng.end:
        labels.append(t)
        t += step
    index = {t: i for i, t in enumerate(labels)}
    names = [n for n in order if n in series] + sorted(n for n in series if n not in order)
    out = []
    for name in names:
        data = [0] * len(labels)
        for minute, value in series[name].items():
            i = index.get(_floor(minute, step))
            if i is not None:
                data[i] += value
        out.append({"name": name, "data": data})
    return {
        "step_seconds": int(step.total_seconds()),
        "labels": [t.strftime("%Y-%m-%dT%H:%M:%SZ") for t in labels],
        "series": out,
    }


def latency(parts, rng: TimeRange) -> dict:
    """p50 and p95 per bucket from latency histogram rollups given as `queries.latency_parts`
    (minutes at the edges, hours or days in the middle where the chart's buckets allow), so one
    endpoint's month is about 720 × (histogram buckets) rows, not 43,200 × ….
    A bucket without requests has no point (None), not zero: latency is unknown there."""
    step = step_for(rng)
    hists: dict[datetime, dict[int, int]] = {}
    for qs in parts:
        # Rows of a grain finer than the chart's buckets are grouped by bucket in the database.
        rows = (
            qs.annotate(t=FloorTo("minute", step))
            .values_list("t", "bucket")
            .annotate(n=Sum("n"))
            .values_list("t", "bucket", "n")
        )
        for t, bucket, n in rows:
            hist = hists.setdefault(_floor(t, step), {})
            hist[bucket] = hist.get(bucket, 0) + n
    shape = bucketize({}, rng, [])
    starts = [
        datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC) for s in shape["labels"]
    ]
    for name, q in (("p50 ms", 0.5), ("p95 ms", 0.95)):
        data = [quantile(hists[t], q) if t in hists else None for t in starts]
        shape["series"].append({"name": name, "data": data})
    return shape


def with_markers(chart: dict, incidents) -> dict:
    """Add incident markers to a bucketized chart: [{"at": bucket index, "until": bucket index
    or None while firing, "label"}]; incidents outside the chart are left out. Labels are data
    (rule names are user text) and charts.js draws them on the canvas, never as HTML."""
    step = timedelta(seconds=chart["step_seconds"])
    if not chart["labels"]:
        chart["markers"] = []
        return chart
    first = datetime.strptime(chart["labels"][0], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    last = len(chart["labels"]) - 1

    def index(t: datetime) -> int:
        return max(0, min(last, (t - first) // step))

    chart["markers"] = [
        {
            "at": index(i.opened_at),
            "until": index(i.resolved_at) if i.resolved_at else None,
            "label": i.rule.name,
            "id": i.id,
        }
        for i in incidents
    ]
    return chart
