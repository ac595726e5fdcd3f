"""Chart data for the pages, from the time-series engine (monitor/reads/series.py): evenly
spaced, zero-filled buckets whose width fits the range (`step_for`), as Chart.js takes them
({"step_seconds", "labels", "series": [{"name", "data"}]})."""

from collections import defaultdict
from datetime import UTC, datetime, timedelta

from monitor.models import Project
from monitor.reads import series as engine
from monitor.reads.timerange import TimeRange
from monitor.reads.totals import Filters
from monitor.rules.causes import CAUSES
from monitor.rules.timebuckets import floor, starts

STEPS = [
    (timedelta(hours=2), timedelta(minutes=1)),
    (timedelta(hours=12), timedelta(minutes=5)),
    (timedelta(days=2), timedelta(minutes=15)),
    (timedelta(days=8), timedelta(hours=1)),
    (timedelta(days=60), timedelta(hours=6)),
]
STATUS_CLASSES = ["2xx", "3xx", "4xx", "5xx", "1xx", "conflicts"]


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


def traffic(project: Project, rng: TimeRange, f: Filters = Filters()) -> dict:  # noqa: B008
    """Requests per bucket by status class, plus conflicts (the overview and endpoint pages)."""
    counts: dict[str, dict] = defaultdict(lambda: defaultdict(int))
    for row in engine.count_rows(project, rng, step_for(rng), f, ("status", "cause")):
        counts[status_class(row["status"])][row["t"]] += row["n"]
        if row["cause"]:
            counts["conflicts"][row["t"]] += row["n"]
    return bucketize(counts, rng, STATUS_CLASSES)


def causes(project: Project, rng: TimeRange, f: Filters = Filters()) -> dict:  # noqa: B008
    """Conflicts per bucket by cause (the endpoint page's timeline)."""
    counts: dict[str, dict] = defaultdict(lambda: defaultdict(int))
    rows = engine.count_rows(project, rng, step_for(rng), f, ("cause",), conflicts_only=True)
    for row in rows:
        counts[row["cause"]][row["t"]] += row["n"]
    return bucketize(counts, rng, list(CAUSES))


def latency(project: Project, rng: TimeRange, f: Filters = Filters()) -> dict:  # noqa: B008
    """p50 and p95 per bucket. A bucket without requests has no point (None), not zero:
    latency is unknown there."""
    per_bucket = engine.histograms(project, rng, step_for(rng), f).get(None, {})
    lines = {
        "p50 ms": engine.quantiles(per_bucket, 0.5),
        "p95 ms": engine.quantiles(per_bucket, 0.95),
    }
    chart = bucketize(lines, rng, list(lines), empty=None)
    if not chart["series"]:
        chart["series"] = [{"name": n, "data": [None] * len(chart["labels"])} for n in lines]
    return chart


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
