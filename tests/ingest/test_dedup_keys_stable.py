"""The dedup keys of stored rows are compared with the keys of records imported again, maybe by
a later version: the same record keeps the same key, literally."""

from datetime import UTC, datetime

from ingest.normalize import dedup_key
from ingest.record import NativeRecord

T = datetime(2026, 3, 1, 12, 0, 5, 250000, tzinfo=UTC)


def test_a_record_keeps_the_key_earlier_versions_gave_it():
    full = NativeRecord(
        T,
        "PUT",
        "/v1/orders/42",
        409,
        query="a=1&b=ü",
        host="api.example.com",
        duration_ms=12.5,
        request_bytes=10,
        response_bytes=320,
        upstream_status=409,
        client="key:Ω",
        client_ip="203.0.113.9",
        user_agent="curl/8.4.0",
    )
    assert dedup_key(full) == "ba655fbd7f327bd830b9d88bb601bd9e"
    assert dedup_key(full, duration_keyed=False) == "4ea4955f5b52ac726ca087a5fe512481"
    bare = NativeRecord(T, "GET", "/", 200)
    assert dedup_key(bare) == dedup_key(bare, duration_keyed=False)
    assert dedup_key(bare) == "bcb439247334e6ce7855c0b0b8994c23"
    assert dedup_key(NativeRecord(T, "GET", "/", 200, request_id="abc")) == (
        "9b0de4348088cfc0f1253c4aeb73a0c1"
    )
