"""Storing a batch: every field of a record reaches its column as it was normalized, whether
the rows go straight into the raw table or (a body holding stored records) through the temp
table; on Postgres in COPY's binary format, whose column types must be the table's."""

from datetime import UTC, datetime

import psycopg
import pytest
from django.db import connection

from ingest.models import Request
from ingest.storage import COLUMNS, COPY_TYPES
from tests.records import record

FIELDS = (
    "ts method path query route status host service duration_ms request_bytes response_bytes "
    "upstream_status client client_ip user_agent request_id request_headers response_headers "
    "response_body resource"
).split()


NOW = datetime.now(UTC).replace(microsecond=250_000)


def full_record(i: int) -> dict:
    return {
        **record(i),
        "ts": NOW.isoformat().replace("+00:00", "Z"),
        "method": "PUT",
        "path": f"/v1/orders/{i}/",
        "query": "expand=items",
        "route": "/v1/orders/{id}",
        "status": 409,
        "host": "api.example.com",
        "service": "orders",
        "duration_ms": 12.75,
        "request_bytes": 2**40,
        "response_bytes": 0,
        "upstream_status": 409,
        "client": "acme-web",
        "client_ip": "10.0.0.7",
        "user_agent": "okhttp/4.9.3",
        "request_id": f"req-{i}",
        "request_headers": {"If-Match": '"v7"', "content-type": "application/json"},
        "response_headers": {"etag": '"v8"', "retry-after": "2"},
        "response_body": '{"error": "conflict é"}',
    }


def stored(request_id: str) -> dict:
    return Request.objects.filter(request_id=request_id).values(*FIELDS).get()


def expected(i: int) -> dict:
    rec = full_record(i)
    return {
        **{name: rec[name] for name in FIELDS if name in rec},
        "ts": datetime.fromisoformat(rec["ts"]),
        "request_headers": {"if-match": '"v7"', "content-type": "application/json"},
        "resource": f"/v1/orders/{i}",
    }


def test_every_field_reaches_its_column(post_logs):
    assert post_logs([full_record(1)]).json()["accepted"] == 1
    assert stored("req-1") == expected(1)


def test_every_field_reaches_its_column_through_the_temp_table_too(post_logs):
    post_logs([full_record(1)])
    answer = post_logs([full_record(1), full_record(2)]).json()
    assert (answer["accepted"], answer["duplicates"]) == (1, 1)
    assert stored("req-2") == expected(2)


def test_a_batch_row_holds_its_counts_whichever_way_its_rows_went(post_logs):
    from django.test.utils import CaptureQueriesContext

    from ingest.models import IngestBatch

    with CaptureQueriesContext(connection) as ctx:
        post_logs([full_record(1), full_record(1)])
    counted_after = [
        q["sql"]
        for q in ctx.captured_queries
        if q["sql"].startswith('UPDATE "ingest_ingestbatch"') and '"accepted"' in q["sql"]
    ]
    if connection.vendor == "postgresql":
        # The straight COPY stores all or fails: the row is written once, with its counts.
        assert counted_after == []
    post_logs([full_record(1), full_record(2)])  # through the temp table
    post_logs([full_record(2)])
    counts = IngestBatch.objects.order_by("id").values_list("accepted", "duplicates")
    assert list(counts) == [(1, 1), (1, 1), (0, 1)]
    assert IngestBatch.objects.order_by("id").last().status == "done"


def test_a_record_without_optional_fields_stores_nulls_and_empty_headers(post_logs):
    rec = {k: record(3)[k] for k in ("ts", "method", "path", "status")}
    assert post_logs([rec], fmt="native").json()["accepted"] == 1
    row = Request.objects.values(*FIELDS).get()
    assert row["request_headers"] == {} and row["response_headers"] == {}
    assert row["duration_ms"] is None and row["query"] is None and row["request_id"] is None


@pytest.mark.postgres
def test_binary_copy_writes_each_column_in_the_table_type(db):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT attname, atttypid FROM pg_attribute "
            "WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped",
            [Request._meta.db_table],
        )
        table = dict(cursor.fetchall())
    assert len(COPY_TYPES) == len(COLUMNS)
    types = psycopg.adapters.types
    declared = {col: types[name].oid for col, name in zip(COLUMNS, COPY_TYPES, strict=True)}
    assert declared == {col: table[col] for col in COLUMNS}


def _dedup_collation() -> str:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT coalesce(c.collname, 'default') FROM pg_attribute a "
            "LEFT JOIN pg_collation c ON c.oid = a.attcollation AND c.collname <> 'default' "
            "WHERE a.attrelid = %s::regclass AND a.attname = 'dedup_key'",
            [Request._meta.db_table],
        )
        return cursor.fetchone()[0]


@pytest.mark.postgres
def test_the_dedup_key_compares_byte_by_byte_and_the_migration_keeps_stored_rows(post_logs):
    import importlib

    migration = importlib.import_module("ingest.migrations.0014_dedup_key_bytewise")
    assert _dedup_collation() == "C"
    post_logs([full_record(1)])
    with connection.schema_editor() as editor:  # back, then forward, with a stored row
        migration.backward(None, editor)
    assert _dedup_collation() == "default"
    with connection.schema_editor() as editor:
        migration.forward(None, editor)
    assert _dedup_collation() == "C"
    answer = post_logs([full_record(1), full_record(2)]).json()
    assert (answer["accepted"], answer["duplicates"]) == (1, 1)
    assert stored("req-1") == expected(1) and stored("req-2") == expected(2)
