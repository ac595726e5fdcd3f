"""FloorTo groups times into UTC buckets in SQL, the same on Postgres and SQLite."""

from datetime import UTC, datetime, timedelta

from ingest.models import Request
from monitor.reads.grains import FloorTo
from tests.records import record


def test_it_floors_times_to_their_bucket_like_python_does(post_logs):
    base = datetime(2026, 11, 20, 10, 7, 31, 250000, tzinfo=UTC)
    times = [base + timedelta(minutes=m, seconds=s) for m in (0, 8, 22, 53) for s in (0, 29)]
    post_logs([record(i, ts=t.isoformat()) for i, t in enumerate(times)], fmt="native")
    step = timedelta(minutes=15)
    got = sorted(
        Request.objects.annotate(b=FloorTo("ts", step)).values_list("ts", "b"), key=lambda r: r[0]
    )
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    assert [b for _, b in got] == [t - ((t - epoch) % step) for t, _ in got]
    assert {b for _, b in got} == {
        datetime(2026, 11, 20, 10, 0, tzinfo=UTC),
        datetime(2026, 11, 20, 10, 15, tzinfo=UTC),
        datetime(2026, 11, 20, 10, 30, tzinfo=UTC),
        datetime(2026, 11, 20, 11, 0, tzinfo=UTC),
    }
