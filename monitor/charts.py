"""Chart data for the pages: per-minute rollup series folded into evenly spaced buckets."""

from datetime import datetime, timedelta

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
