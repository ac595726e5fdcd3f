"""Rollups at three grains: filled together, read at the coarsest grain that serves a range."""

import random
from datetime import UTC, datetime, timedelta

import pytest
from django.db.models import Q, Sum

from ingest.models import Request
from monitor.models import (
    LatencyDayRollup,
    LatencyHourRollup,
    LatencyRollup,
    StatusDayRollup,
    StatusHourRollup,
    StatusRollup,
)
from monitor.reads import series, totals
from monitor.reads.grains import by_grain, pieces
from monitor.reads.timerange import TimeRange
from monitor.rules.timebuckets import DAY, HOUR, MINUTE
from tests.records import record

NOW = datetime.now(UTC).replace(microsecond=0)


def iso(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


def spread(n: int, days: float, seed: int = 1) -> list[dict]:
    """n records at random instants over the last `days` days, some of them conflicts."""
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        ts = NOW - timedelta(seconds=rnd.uniform(0, days * 86400))
        out.append(
            record(
                i,
                ts=iso(ts),
                method=rnd.choice(["GET", "GET", "PUT", "POST"]),
                path=f"/v1/items/{rnd.randrange(5)}",
                status=rnd.choice([200, 200, 201, 409, 500]),
                duration_ms=rnd.uniform(1, 900),
            )
        )
    return out


def grain_totals(model) -> dict:
    fields = (
        ["endpoint_id", "status", "cause"]
        if "status" in model._meta.db_table
        else [
            "endpoint_id",
            "bucket",
        ]
    )
    return {
        tuple(row[f] for f in fields): row["t"]
        for row in model.objects.values(*fields).annotate(t=Sum("n"))
    }


def test_aggregation_fills_the_minute_hour_and_day_rollups_with_the_same_counts(post_logs):
    post_logs(spread(400, 3))
    assert (
        grain_totals(StatusRollup)
        == grain_totals(StatusHourRollup)
        == grain_totals(StatusDayRollup)
    )
    assert (
        grain_totals(LatencyRollup)
        == grain_totals(LatencyHourRollup)
        == grain_totals(LatencyDayRollup)
    )
    assert sum(grain_totals(StatusDayRollup).values()) == 400
    hours = StatusHourRollup.objects.values_list("minute", flat=True)
    assert all(t.minute == 0 and t.second == 0 for t in hours)
    days = StatusDayRollup.objects.values_list("minute", flat=True)
    assert all(t.hour == 0 and t.minute == 0 for t in days)


def test_a_resent_batch_adds_nothing_at_any_grain(post_logs):
    records = spread(120, 2)
    post_logs(records)
    before = grain_totals(StatusHourRollup), grain_totals(StatusDayRollup)
    post_logs(records)
    assert (grain_totals(StatusHourRollup), grain_totals(StatusDayRollup)) == before


def test_a_range_is_read_as_minute_edges_whole_hours_and_whole_days():
    t = datetime(2026, 11, 20, 22, 47, 30, tzinfo=UTC)
    rng = TimeRange(t, t + timedelta(days=3, hours=2, minutes=5))
    now = datetime(2026, 11, 25, tzinfo=UTC)
    assert pieces(rng, DAY, now) == [
        (
            MINUTE,
            datetime(2026, 11, 20, 22, 47, tzinfo=UTC),
            datetime(2026, 11, 20, 23, tzinfo=UTC),
        ),
        (HOUR, datetime(2026, 11, 20, 23, tzinfo=UTC), datetime(2026, 11, 21, tzinfo=UTC)),
        (DAY, datetime(2026, 11, 21, tzinfo=UTC), datetime(2026, 11, 24, tzinfo=UTC)),
        (
            MINUTE,
            datetime(2026, 11, 24, 0, 0, tzinfo=UTC),
            datetime(2026, 11, 24, 0, 53, tzinfo=UTC),
        ),
    ]
    assert [g for g, _, _ in pieces(rng, HOUR, now)] == [MINUTE, HOUR, MINUTE]
    assert [g for g, _, _ in pieces(rng, MINUTE, now)] == [MINUTE]


def test_the_pieces_of_one_grain_are_read_as_one():
    t = datetime(2026, 11, 20, 22, 47, 30, tzinfo=UTC)
    rng = TimeRange(t, t + timedelta(days=3, hours=2, minutes=5))
    now = datetime(2026, 11, 25, tzinfo=UTC)

    def span(lo: datetime, hi: datetime) -> Q:
        return Q(minute__gte=lo, minute__lt=hi)

    minutes = span(t.replace(second=0), datetime(2026, 11, 20, 23, tzinfo=UTC)) | span(
        datetime(2026, 11, 24, tzinfo=UTC), datetime(2026, 11, 24, 0, 53, tzinfo=UTC)
    )
    assert by_grain(rng, DAY, now) == [
        (MINUTE, minutes),
        (HOUR, span(datetime(2026, 11, 20, 23, tzinfo=UTC), datetime(2026, 11, 21, tzinfo=UTC))),
        (DAY, span(datetime(2026, 11, 21, tzinfo=UTC), datetime(2026, 11, 24, tzinfo=UTC))),
    ]


def test_minute_edges_past_the_minute_retention_are_read_as_their_whole_hour(settings):
    settings.CONFLICTWATCH_ROLLUP_RETENTION_DAYS = 35
    now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    start = datetime(2026, 9, 1, 10, 20, tzinfo=UTC)
    rng = TimeRange(start, datetime(2026, 11, 25, 11, 40, tzinfo=UTC))
    parts = pieces(rng, DAY, now)
    assert parts[0] == (
        HOUR,
        datetime(2026, 9, 1, 10, tzinfo=UTC),
        datetime(2026, 9, 2, tzinfo=UTC),
    )
    assert parts[-1] == (
        MINUTE,
        datetime(2026, 11, 25, 11, tzinfo=UTC),
        datetime(2026, 11, 25, 11, 40, tzinfo=UTC),
    )


def exact_counts(rng: TimeRange) -> tuple[int, int]:
    start = rng.start.replace(second=0, microsecond=0)
    rows = Request.objects.filter(ts__gte=start, ts__lt=rng.end)
    end_minute = rng.end.replace(second=0, microsecond=0)
    if end_minute < rng.end:
        # The rollups count the whole last minute that the range touches.
        rows = Request.objects.filter(ts__gte=start, ts__lt=end_minute + timedelta(minutes=1))
    return rows.count(), rows.filter(status__in=[409, 412, 428]).count()


@pytest.mark.parametrize("days,hours,minutes", [(0, 0, 17), (0, 5, 3), (2, 7, 41), (4, 0, 0)])
def test_summary_and_endpoints_over_ragged_ranges_are_exact(shop, post_logs, days, hours, minutes):
    post_logs(spread(600, 5, seed=days + hours))
    start = NOW - timedelta(days=days, hours=hours, minutes=minutes, seconds=13)
    rng = TimeRange(start, NOW - timedelta(minutes=7, seconds=5))
    requests, conflicts = exact_counts(rng)
    s = totals.summary(shop, rng)
    assert (s["requests"], s["conflicts"]) == (requests, conflicts)
    assert sum(e["requests"] for e in totals.endpoints(shop, rng)) == requests
    by_minute = totals.summary(shop, rng)  # the same again: reads are pure
    assert by_minute == s


def test_hourly_and_daily_series_agree_with_the_minute_series(shop, post_logs):
    post_logs(spread(500, 4, seed=7))
    start = (NOW - timedelta(days=3)).replace(minute=0, second=0)
    if start.hour == 0:
        start += timedelta(hours=1)  # the daily assertions below need a range that starts mid-day
    rng = TimeRange(start, start + timedelta(days=2))
    minute = {"series": [{"points": []}]}
    for half in (TimeRange(start, start + DAY), TimeRange(start + DAY, rng.end)):
        points = series.timeseries(shop, half, series.Query(interval="1m"))
        minute["series"][0]["points"] += points["series"][0]["points"]
    hourly = series.timeseries(shop, rng, series.Query(interval="1h"))
    per_hour: dict[str, int] = {}
    for p in minute["series"][0]["points"]:
        per_hour[p["t"][:13]] = per_hour.get(p["t"][:13], 0) + p["value"]
    assert {p["t"][:13]: p["value"] for p in hourly["series"][0]["points"]} == per_hour
    daily = series.timeseries(shop, rng, series.Query(interval="1d", group="status"))
    assert sum(p["value"] for s in daily["series"] for p in s["points"]) == sum(per_hour.values())
    p95_hourly = series.timeseries(shop, rng, series.Query("p95_ms", "1h"))
    p95_daily = series.timeseries(shop, rng, series.Query("p95_ms", "1d"))
    assert any(p["value"] for p in p95_hourly["series"][0]["points"])
    assert len(p95_daily["series"][0]["points"]) == 3  # the range starts mid-day
    assert all(p["value"] for p in p95_daily["series"][0]["points"])


def test_the_project_wide_latency_histograms_are_the_endpoints_summed_at_every_grain(
    post_logs,
):
    from monitor.models import (
        ProjectLatencyDayRollup,
        ProjectLatencyHourRollup,
        ProjectLatencyRollup,
    )

    post_logs(spread(300, 3, seed=9))
    for per_endpoint, wide in [
        (LatencyRollup, ProjectLatencyRollup),
        (LatencyHourRollup, ProjectLatencyHourRollup),
        (LatencyDayRollup, ProjectLatencyDayRollup),
    ]:
        summed = {
            (row["minute"], row["bucket"]): row["t"]
            for row in per_endpoint.objects.values("minute", "bucket").annotate(t=Sum("n"))
        }
        assert summed == {
            (m, b): n for m, b, n in wide.objects.values_list("minute", "bucket", "n")
        }
    assert sum(ProjectLatencyDayRollup.objects.values_list("n", flat=True)) == 300
