"""Every writer of a rollup takes its row locks in one order, whichever path it writes by: the
unnest arrays of a live batch are sorted in Python, a backfill's COPYed rows are sorted by
Postgres (rollups.lock_order). The two orders must be the same order, or a backfill and a live
worker adding to the same day rows could deadlock."""

from datetime import UTC, datetime, timedelta, timezone

import pytest
from django.db import connection

from monitor.pipeline import rollups
from monitor.pipeline.rollups import TABLES

CLIENT_MINUTE = "monitor_rollup_client_minute"
T = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
# Case, accents, characters beyond the BMP, prefixes, digits, spaces and punctuation: text that
# a locale's collation orders otherwise than Python does.
CLIENTS = [
    "",
    "a",
    "A",
    "b",
    "B",
    "ab",
    "a b",
    "a-b",
    "a_b",
    "Zoë",
    "zoe",
    "Zoe",
    "é",
    "e",
    "f",
    "ß",
    "ss",
    "日本",
    "😀",
    "\uffff",
    "10.0.0.2",
    "10.0.0.10",
    "key:Ω",
    "key:omega",
]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_postgres_orders_copied_counts_as_python_sorts_the_arrays():
    keys = [
        (project, minute, endpoint, client)
        for project in (2, 1)
        # The same instant in another offset is the same minute; the later one sorts after.
        for minute in (T, T.astimezone(timezone(timedelta(hours=-5))), T + timedelta(minutes=1))
        for endpoint in (10, 9)
        for client in CLIENTS
    ]
    key_columns, _ = TABLES[CLIENT_MINUTE]
    names = ", ".join(name for name, _ in key_columns)
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMP TABLE lock_order_probe AS SELECT {names} FROM {CLIENT_MINUTE} "
            "WITH NO DATA"
        )
        try:
            cursor.executemany(
                f"INSERT INTO lock_order_probe ({names}) VALUES (%s, %s, %s, %s)", keys
            )
            cursor.execute(
                f"SELECT {names} FROM lock_order_probe ORDER BY {rollups.lock_order(CLIENT_MINUTE)}"
            )
            ordered = cursor.fetchall()
        finally:
            cursor.execute("DROP TABLE lock_order_probe")
    assert ordered == sorted(keys)
    # The probe holds text that a locale's collation would order otherwise.
    assert sorted(CLIENTS) != sorted(CLIENTS, key=str.casefold)


def test_every_rollup_key_is_ordered_by_all_of_its_columns():
    for table, (key_columns, _) in TABLES.items():
        order = rollups.lock_order(table)
        assert [part.split()[0] for part in order.split(", ")] == [n for n, _ in key_columns]
        for name, sql_type in key_columns:
            assert (f'{name} COLLATE "C"' in order) == (sql_type == "text"), (table, name)
