"""Postgres: the per-batch statements of aggregation are prepared once per connection, unless
CONFLICTWATCH_PREPARED_STATEMENTS is off (poolers that cannot carry them)."""

from datetime import UTC, datetime

import pytest
from django.db import connection

from ingest.prepared import pipeline
from monitor.pipeline import rollups

pytestmark = pytest.mark.postgres
MINUTE = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("prepared statements are a Postgres feature; SQLite runs them as is")


def prepared_upserts() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_prepared_statements "
            "WHERE statement LIKE 'INSERT INTO monitor_rollup_race_minute%%'"
        )
        return cursor.fetchone()[0]


def add_race(project_id: int, n: int) -> None:
    rollups.add(
        "monitor_rollup_race_minute",
        {(project_id, "/v1/orders/1", MINUTE, "winner", "loser"): (n,)},
    )


def race_count(project_id: int) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT n FROM monitor_rollup_race_minute WHERE project_id = %s", [project_id]
        )
        return cursor.fetchone()[0]


def test_a_rollup_upsert_is_prepared_and_adds_up(shop):
    for n in (2, 3, 4):
        add_race(shop.id, n)
    assert prepared_upserts() == 1
    assert race_count(shop.id) == 9


@pytest.fixture
def preparing_nothing():
    """The connection as CONFLICTWATCH_PREPARED_STATEMENTS=false opens it."""
    connection.ensure_connection()
    raw = connection.connection
    threshold, raw.prepare_threshold = raw.prepare_threshold, None
    yield
    raw.prepare_threshold = threshold


def test_nothing_is_prepared_when_turned_off(shop, preparing_nothing):
    for n in (2, 3, 4):
        add_race(shop.id, n)
    assert prepared_upserts() == 0
    assert race_count(shop.id) == 9


def test_a_database_error_is_djangos(shop):
    from django.db import DatabaseError

    with pytest.raises(DatabaseError):
        rollups.add("monitor_rollup_race_minute", {(shop.id, "/r", MINUTE, "w"): (1,)})


def test_pipelined_writes_add_up_and_are_prepared(shop):
    for n in (2, 3, 4):
        with pipeline():
            add_race(shop.id, n)
            add_race(shop.id, 10 * n)
    assert race_count(shop.id) == 99
    assert prepared_upserts() == 1


def test_an_error_in_a_pipeline_is_djangos_and_the_transaction_writes_nothing(shop):
    from django.db import DataError, transaction

    add_race(shop.id, 1)
    with pytest.raises(DataError, match="out of range"), transaction.atomic():
        with pipeline():
            add_race(shop.id, 5)
            # bigint overflow on the second statement: the first is rolled back with it
            add_race(shop.id, 2**63 - 1)
    assert race_count(shop.id) == 1
