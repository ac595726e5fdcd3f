"""Postgres: the raw table partitioned by UTC day; retention drops whole partitions, and the
counts of every day stay the same across a prune (acceptance 1 of the scale issue)."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection

from ingest import partitions
from ingest.models import Request
from monitor.pipeline import retention
from monitor.reads import series, totals
from monitor.reads.timerange import TimeRange
from tests.scale.test_grains import spread

pytestmark = pytest.mark.postgres
NOW = datetime.now(UTC)


@pytest.fixture(autouse=True)
def _postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("partitions exist on Postgres only; SQLite keeps one table")


def partition_days() -> set:
    return {lower.date() for _, lower, _ in partitions.existing()}


def rows_in(name: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM {name}")
        return cursor.fetchone()[0]


def test_the_raw_table_is_partitioned_by_day_with_partitions_ahead(db):
    assert partitions.partitioned()
    today = NOW.date()
    assert {today, today + timedelta(days=1), today + timedelta(days=2)} <= partition_days()


def test_ingest_creates_the_partitions_its_records_need_and_rows_land_in_their_day(post_logs):
    old = NOW - timedelta(days=9, hours=3)
    post_logs([{**spread(1, 0)[0], "ts": old.isoformat()}])
    name = partitions.name_for(old.date())
    assert old.date() in partition_days()
    assert rows_in(name) == 1
    assert Request.objects.get().ts.date() == old.date()


def test_prune_drops_old_partitions_and_every_days_counts_stay_the_same(shop, post_logs, settings):
    # Ingest accepts 14 days back (CONFLICTWATCH_MAX_RECORD_AGE_DAYS); retention keeps 5 here.
    settings.CONFLICTWATCH_RAW_RETENTION_DAYS = 5
    post_logs(spread(1500, 13.5, seed=11))
    post_logs(spread(1500, 13.5, seed=12))
    assert len(partition_days()) >= 14
    rng = TimeRange(NOW - timedelta(days=15), NOW)

    def answers():
        return (
            totals.summary(shop, rng),
            totals.endpoints(shop, rng),
            series.timeseries(shop, rng, series.Query(interval="1d", group="status")),
            series.timeseries(shop, rng, series.Query(interval="1h", group="cause")),
            series.timeseries(shop, rng, series.Query("p95_ms", "1d")),
        )

    before = answers()
    assert before[0]["requests"] == 3000
    report = retention.prune()
    cut = report.cutoffs.raw
    assert report.dropped_partitions
    assert min(partition_days()) == cut.date()
    assert not Request.objects.filter(ts__lt=cut).exists()
    assert Request.objects.filter(ts__gte=cut).count() > 0
    assert answers() == before
    # A second prune the same day has nothing to do.
    assert retention.prune().dropped_partitions == []


ANALYSIS_COLUMNS = ("cause", "cause_reason", "race_winner_id", "retry_outcome", "resolved_after_ms")


def test_no_index_names_a_column_that_aggregation_writes_back(db):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s",
            [partitions.PARENT],
        )
        indexes = cursor.fetchall()
    assert indexes
    for name, definition in indexes:
        assert not any(col in definition for col in ANALYSIS_COLUMNS), name


def updates_in(name: str) -> tuple[int, int]:
    """(updated, HOT-updated) rows of a table, as this backend counts them so far."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_xact_user_tables WHERE relname = %s",
            [name],
        )
        return cursor.fetchone()


def test_partitions_keep_free_space_so_the_write_back_is_a_hot_update(post_logs):
    """The conflicts a batch stores are updated by its aggregation in the same transaction
    of the test: Postgres counts those updates, and how many of them were HOT. One request in
    twenty is a conflict: about one per page of these rows, the room a tenth of a page keeps
    (two on a page may not both fit, as the decided row grows by its reason)."""
    noon = datetime.combine(NOW.date(), datetime.min.time(), tzinfo=UTC) + timedelta(hours=12)
    records = []
    for i in range(200):
        ts = (noon - timedelta(seconds=i)).isoformat(timespec="milliseconds")
        status = 409 if i % 20 == 0 else 200
        records.append(
            {
                "ts": ts,
                "method": "PUT",
                "path": f"/v1/orders/{i % 7}",
                "status": status,
                "client": f"client-{i % 3}",
                "request_id": f"r-{i}",
                "response_body": "x" * 300,
            }
        )
    name = partitions.name_for(noon.date())
    with connection.cursor() as cursor:
        cursor.execute("SELECT reloptions FROM pg_class WHERE relname = %s", [name])
        assert cursor.fetchone()[0] == [f"fillfactor={partitions.FILLFACTOR}"]
    # The counters of this backend's earlier transactions stay in them until its statistics
    # are flushed (at most once a second, when idle): count from here.
    before = updates_in(name)
    post_logs(records)
    updated, hot = (after - first for after, first in zip(updates_in(name), before, strict=True))
    conflicts = Request.objects.filter(status=409).count()
    assert conflicts == 10
    assert not Request.objects.filter(status=409, cause__isnull=True).exists()
    assert updated >= conflicts
    assert hot == updated
