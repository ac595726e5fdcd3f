"""Postgres: every primary key and unique constraint (and unique index) of the raw and rollup
tables includes project_id, the column Citus would distribute them by (DESIGN principle 7)."""

import pytest
from django.db import connection

pytestmark = pytest.mark.postgres

# The raw table (its parent and every day partition), the sampled keys beside it, every rollup.
TABLES_SQL = """
    SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')
      AND (c.relname = 'ingest_request' OR c.relname LIKE 'ingest\\_request\\_p%%'
           OR c.relname = 'ingest_sampled_key' OR c.relname LIKE 'monitor\\_rollup\\_%%')
    ORDER BY 1
"""
UNIQUE_SQL = """
    SELECT t.relname, i.relname, x.indisprimary,
           array_agg(a.attname ORDER BY k.ord) AS columns
    FROM pg_index x
    JOIN pg_class t ON t.oid = x.indrelid
    JOIN pg_class i ON i.oid = x.indexrelid
    CROSS JOIN LATERAL unnest(x.indkey) WITH ORDINALITY AS k(attnum, ord)
    LEFT JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum
    WHERE x.indisunique AND t.relname = ANY(%s)
    GROUP BY t.relname, i.relname, x.indisprimary
    ORDER BY 1, 2
"""


@pytest.fixture(autouse=True)
def _postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("Citus is Postgres; SQLite has no distribution column")


def unique_keys() -> tuple[list[str], list[tuple]]:
    """The raw and rollup tables, and each unique index on them (primary keys and unique
    constraints are backed by one): (table, index, is primary, [columns])."""
    with connection.cursor() as cursor:
        cursor.execute(TABLES_SQL)
        tables = [row[0] for row in cursor.fetchall()]
        cursor.execute(UNIQUE_SQL, [tables])
        return tables, cursor.fetchall()


def test_every_key_of_the_raw_and_rollup_tables_includes_project_id(db):
    tables, keys = unique_keys()
    assert "ingest_request" in tables and "ingest_sampled_key" in tables
    assert sum(t.startswith("monitor_rollup_") for t in tables) >= 10
    assert any(t.startswith("ingest_request_p") for t in tables), "no day partition listed"
    for table in tables:
        assert any(key[0] == table and key[2] for key in keys), f"{table} has no primary key"
    without = [
        f"{table}.{index} ({', '.join(columns)})"
        for table, index, _, columns in keys
        if "project_id" not in columns
    ]
    assert not without, "keys without project_id: " + "; ".join(without)


def test_the_raw_table_key_still_leads_with_id_and_ts(db):
    # A request's page finds its row by id, aggregation's write-back by (id, ts): both read
    # the primary key, so its first columns must stay id, ts.
    _, keys = unique_keys()
    (columns,) = [c for table, _, primary, c in keys if table == "ingest_request" and primary]
    assert columns == ["id", "ts", "project_id"]
