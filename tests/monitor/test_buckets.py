"""FloorTo groups times into UTC buckets in SQL, the same on Postgres and SQLite."""

from datetime import UTC, datetime, timedelta

from ingest.models import Request
from monitor.reads.grains import EpochFloorTo, FloorTo
from tests.records import record


def test_it_floors_times_to_their_bucket_like_python_does(post_logs):
    day = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=2)
    base = day.replace(hour=10, minute=7, second=31, microsecond=250000)
    times = [base + timedelta(minutes=m, seconds=s) for m in (0, 8, 22, 53) for s in (0, 29)]
    post_logs([record(i, ts=t.isoformat()) for i, t in enumerate(times)], fmt="native")
    step = timedelta(minutes=15)
    got = sorted(
        Request.objects.annotate(b=FloorTo("ts", step)).values_list("ts", "b"), key=lambda r: r[0]
    )
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    assert [b for _, b in got] == [t - ((t - epoch) % step) for t, _ in got]
    assert {b for _, b in got} == {
        day.replace(hour=10, minute=0),
        day.replace(hour=10, minute=15),
        day.replace(hour=10, minute=30),
        day.replace(hour=11, minute=0),
    }


def test_epoch_buckets_are_the_same_buckets_as_seconds_since_the_epoch(post_logs):
    day = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=2)
    base = day.replace(hour=23, minute=52, second=31, microsecond=250000)
    times = [base + timedelta(minutes=m, seconds=s) for m in (0, 8, 22, 53) for s in (0, 29)]
    post_logs([record(i, ts=t.isoformat()) for i, t in enumerate(times)], fmt="native")
    for step in (
        timedelta(minutes=1),
        timedelta(minutes=15),
        timedelta(hours=1),
        timedelta(days=1),
    ):
        got = Request.objects.annotate(b=FloorTo("ts", step), e=EpochFloorTo("ts", step))
        pairs = list(got.values_list("b", "e"))
        assert len(pairs) == len(times)
        assert all(isinstance(e, int) and b.timestamp() == e for b, e in pairs), (step, pairs)
