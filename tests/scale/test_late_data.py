"""Late and out-of-order data (a shipper catching up after an outage) lands in the minute,
hour and day of its own timestamp, whatever order the batches arrive in."""

from datetime import UTC, datetime, timedelta

from django.db.models import Sum

from monitor.models import StatusDayRollup, StatusHourRollup, StatusRollup
from tests.records import record

NOW = datetime.now(UTC).replace(second=0, microsecond=0)


def at(t: datetime, i: int, **fields) -> dict:
    return record(i, ts=t.isoformat().replace("+00:00", "Z"), **fields)


def count(model, t: datetime) -> int:
    return model.objects.filter(minute=t).aggregate(n=Sum("n"))["n"] or 0


def test_records_sent_days_late_and_out_of_order_land_in_their_minute_hour_and_day(post_logs):
    today = NOW - timedelta(minutes=5)
    three_days_ago = (NOW - timedelta(days=3)).replace(hour=22, minute=59) + timedelta(seconds=58)
    last_week = (NOW - timedelta(days=6)).replace(hour=0, minute=0, second=1)
    post_logs([at(today, 1)])
    # The catch-up: newest first, then older, then a record from between the two.
    post_logs([at(three_days_ago, 2), at(last_week, 3, status=409), at(three_days_ago, 4)])
    post_logs([at(last_week + timedelta(hours=5), 5)])
    for t, n in ((today, 1), (three_days_ago, 2), (last_week, 1)):
        minute = t.replace(second=0, microsecond=0)
        assert count(StatusRollup, minute) == n
        assert count(StatusHourRollup, minute.replace(minute=0)) == n
    assert count(StatusDayRollup, last_week.replace(hour=0, minute=0, second=0)) == 2
    day3 = three_days_ago.replace(hour=0, minute=0, second=0)
    assert count(StatusDayRollup, day3) == 2
    assert StatusDayRollup.objects.aggregate(n=Sum("n"))["n"] == 5
