"""Retention: `manage.py prune` deletes raw rows by whole UTC days and old rollups, while the
counts of every range stay what they were."""

from datetime import UTC, datetime, timedelta
from io import StringIO

from django.core.management import call_command

from ingest.models import Request
from monitor.models import StatusDayRollup, StatusHourRollup, StatusRollup
from monitor.pipeline import retention
from monitor.reads import series, totals
from monitor.reads.timerange import TimeRange
from tests.scale.test_grains import spread

NOW = datetime.now(UTC)


def day(t: datetime) -> datetime:
    return t.replace(hour=0, minute=0, second=0, microsecond=0)


def views(shop) -> tuple:
    rng = TimeRange(NOW - timedelta(days=21, hours=5, minutes=13), NOW)
    return (
        totals.summary(shop, rng),
        totals.endpoints(shop, rng),
        series.timeseries(shop, rng, series.Query(interval="1h", group="status")),
        series.timeseries(shop, rng, series.Query("p95_ms", "1d")),
    )


def test_prune_keeps_raw_rows_of_the_retention_and_every_count(shop, post_logs, settings):
    settings.CONFLICTWATCH_RAW_RETENTION_DAYS = 7
    settings.CONFLICTWATCH_ROLLUP_RETENTION_DAYS = 10
    post_logs(spread(900, 20, seed=3))
    before = views(shop)
    report = retention.prune()
    cut = day(NOW - timedelta(days=7))
    assert not Request.objects.filter(ts__lt=cut).exists()
    assert report.deleted["ingest_request"] > 0
    assert Request.objects.order_by("ts").first().ts >= cut
    assert not StatusRollup.objects.filter(minute__lt=day(NOW - timedelta(days=10))).exists()
    assert StatusHourRollup.objects.filter(minute__lt=day(NOW - timedelta(days=10))).exists()
    assert views(shop) == before
    assert sum(StatusDayRollup.objects.values_list("n", flat=True)) == 900


def test_raw_rows_go_a_whole_utc_day_at_a_time(shop, post_logs, settings):
    settings.CONFLICTWATCH_RAW_RETENTION_DAYS = 3
    post_logs(spread(300, 6, seed=4))
    cut = day(NOW - timedelta(days=3))
    kept = Request.objects.filter(ts__gte=cut).count()
    retention.prune()
    assert Request.objects.count() == kept
    assert Request.objects.filter(ts__lt=cut + timedelta(hours=12)).exists()


def test_a_dry_run_counts_what_would_go_and_deletes_nothing(shop, post_logs, settings):
    settings.CONFLICTWATCH_RAW_RETENTION_DAYS = 2
    post_logs(spread(200, 5, seed=5))
    old = Request.objects.filter(ts__lt=day(NOW - timedelta(days=2))).count()
    out = StringIO()
    call_command("prune", "--dry-run", stdout=out)
    assert f"would delete ingest_request: {old} rows" in out.getvalue()
    assert Request.objects.count() == 200
    call_command("prune", stdout=out)
    assert f"deleted ingest_request: {old} rows" in out.getvalue()
    assert Request.objects.count() == 200 - old
    assert retention.prune().deleted["ingest_request"] == 0


def test_a_request_past_retention_says_so_in_the_api_and_on_its_page(
    shop, alice, post_logs, api, client, settings
):
    settings.CONFLICTWATCH_RAW_RETENTION_DAYS = 2
    post_logs(spread(50, 5, seed=6))
    oldest = Request.objects.order_by("ts").first()
    retention.prune()
    answer = api.get(f"/api/v1/projects/shop/requests/{oldest.id}/")
    assert answer.status_code == 404
    assert "raw requests are kept 2 days" in answer.json()["error"]
    client.force_login(alice)
    page = client.get(f"/p/shop/requests/{oldest.id}/")
    assert page.status_code == 404
    assert b"past retention, raw requests are kept 2 days" in page.content
    never = api.get(f"/api/v1/projects/shop/requests/{10**12}/")
    assert never.status_code == 404 and "retention" not in never.json()["error"]


def test_prune_is_a_daily_periodic_task():
    from monitor.schedule import PERIODIC

    assert PERIODIC["monitor.tasks.prune_retention"] == 86400
    assert "monitor.tasks.create_partitions" in PERIODIC
