"""POST /ingest/v1/logs: the answer contract, dedup and bad input."""

import gc
import gzip
import json

import pytest
from django.test import override_settings

from ingest.models import IngestBatch, Request
from monitor.models import StatusRollup
from tests.ingest.samples import SHARED
from tests.records import record


def counted() -> int:
    return sum(StatusRollup.objects.values_list("n", flat=True))


def test_it_accepts_ndjson_and_counts_it(post_logs):
    response = post_logs([record(i) for i in range(5)])
    assert response.status_code == 200
    assert response.json() == {"accepted": 5, "duplicates": 0, "rejected": 0, "errors": []}
    assert Request.objects.count() == 5
    assert counted() == 5
    assert IngestBatch.objects.get().status == "done"


def test_it_accepts_a_json_array_and_a_single_object(post_logs):
    assert (
        post_logs(json.dumps([record(1), record(2)]), content_type="application/json").json()[
            "accepted"
        ]
        == 2
    )
    assert post_logs(json.dumps(record(3)), content_type="application/json").json()["accepted"] == 1


def test_it_accepts_gzip(post_logs):
    response = post_logs([record(i) for i in range(3)], gzipped=True)
    assert response.json()["accepted"] == 3


def test_it_counts_a_resent_record_once(post_logs):
    batch = [record(i) for i in range(4)]
    post_logs(batch)
    again = post_logs(batch)
    assert again.status_code == 200
    assert again.json() == {"accepted": 0, "duplicates": 4, "rejected": 0, "errors": []}
    assert Request.objects.count() == 4
    assert counted() == 4


def test_a_body_mixing_stored_and_new_records_stores_the_new_ones(post_logs):
    """The straight COPY fails on the stored ones; the batch goes through ON CONFLICT."""
    post_logs([record(i) for i in range(3)])
    response = post_logs([record(i) for i in range(1, 6)])
    assert response.json() == {"accepted": 3, "duplicates": 2, "rejected": 0, "errors": []}
    assert sorted(Request.objects.values_list("request_id", flat=True)) == sorted(
        record(i)["request_id"] for i in range(6)
    )
    assert counted() == 6


def test_it_counts_a_record_repeated_in_one_body_once(post_logs):
    response = post_logs([record(1), record(1), record(2)])
    assert response.json()["accepted"] == 2
    assert response.json()["duplicates"] == 1


def test_it_dedups_records_without_request_id_by_content(post_logs):
    rec = record(1)
    del rec["request_id"]
    post_logs([rec])
    assert post_logs([rec]).json()["duplicates"] == 1
    assert Request.objects.count() == 1


def test_it_keeps_the_good_records_of_a_partly_bad_batch(post_logs):
    bad = record(2)
    del bad["status"]
    response = post_logs([record(1), bad, record(3)], fmt="native")
    assert response.status_code == 200
    body = response.json()
    assert body["accepted"] == 2
    assert body["rejected"] == 1
    assert body["errors"] == [{"index": 1, "error": "status: missing"}]
    assert counted() == 2


def test_it_names_an_invalid_ndjson_line(post_logs):
    body = json.dumps(record(1)) + "\n{not json\n" + json.dumps(record(2))
    response = post_logs(body)
    assert response.status_code == 200
    assert response.json()["accepted"] == 2
    assert response.json()["errors"][0]["index"] == 1
    assert "not valid JSON" in response.json()["errors"][0]["error"]


def test_it_rejects_invalid_json_with_400(post_logs):
    response = post_logs(
        '{"ts": "2025-01-01T00:00:00Z", "method": ', content_type="application/json"
    )
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert "not valid JSON" in response.json()["error"]


def test_it_rejects_json_nested_10000_deep_with_400(post_logs):
    response = post_logs("[" * 10000 + "]" * 10000, content_type="application/json")
    assert response.status_code == 400
    assert "nested too deeply" in response.json()["error"]


def test_it_rejects_a_body_where_nothing_is_usable_with_400(post_logs):
    response = post_logs([{"hello": "world"}, {"method": "GET"}], fmt="native")
    assert response.status_code == 400
    body = response.json()
    assert body["accepted"] == 0 and body["rejected"] == 2
    assert "no usable record" in body["error"]


def test_it_rejects_a_50mb_body_with_413(post_logs):
    body = b"[" + b" " * (50 * 1024 * 1024) + b"]"
    response = post_logs(body, content_type="application/json")
    assert response.status_code == 413
    assert "over the limit" in response.json()["error"]


@override_settings(CONFLICTWATCH_MAX_BODY_BYTES=1024 * 1024)
def test_it_rejects_a_gzip_bomb_with_413_without_inflating_it(post_logs):
    bomb = gzip.compress(b" " * (200 * 1024 * 1024))  # 200 MB of spaces in ~200 KB
    response = post_logs(bomb, headers={"HTTP_CONTENT_ENCODING": "gzip"})
    assert response.status_code == 413
    assert "after decompression" in response.json()["error"]


def test_it_rejects_corrupt_gzip_with_400(post_logs):
    response = post_logs(b"\x1f\x8b\x08\x00garbage", headers={"HTTP_CONTENT_ENCODING": "gzip"})
    assert response.status_code == 400
    assert "gzip" in response.json()["error"]


def test_it_rejects_an_unknown_content_encoding_with_415(post_logs):
    response = post_logs([record(1)], headers={"HTTP_CONTENT_ENCODING": "br"})
    assert response.status_code == 415
    assert "Content-Encoding" in response.json()["error"]


def test_it_rejects_an_unsupported_content_type_with_415(post_logs):
    response = post_logs([record(1)], content_type="application/xml")
    assert response.status_code == 415
    assert "content type" in response.json()["error"]


def test_it_rejects_a_missing_token_with_401(post_logs):
    response = post_logs([record(1)], auth=False)
    assert response.status_code == 401
    assert "token" in response.json()["error"]
    assert Request.objects.count() == 0


def test_it_rejects_a_wrong_token_with_401(post_logs):
    response = post_logs([record(1)], headers={"HTTP_AUTHORIZATION": "Bearer cw_wrong"})
    assert response.status_code == 401


def test_it_accepts_the_token_in_x_conflictwatch_token(post_logs, token):
    response = post_logs([record(1)], auth=False, headers={"HTTP_X_CONFLICTWATCH_TOKEN": token})
    assert response.status_code == 200


def test_it_rejects_an_unknown_format_with_400(post_logs):
    response = post_logs([record(1)], fmt="nope")
    assert response.status_code == 400
    assert "unknown format 'nope'" in response.json()["error"]


def test_it_answers_429_with_retry_after_when_the_backlog_is_full(post_logs, shop):
    IngestBatch.objects.bulk_create([IngestBatch(project=shop) for _ in range(3)])
    with override_settings(CONFLICTWATCH_MAX_PENDING_BATCHES=2):
        response = post_logs([record(1)])
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert Request.objects.count() == 0


def test_it_answers_get_with_405(client):
    assert client.get("/ingest/v1/logs").status_code == 405


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("status", "abc", "status: expected an integer"),
        ("status", 700, "status: 700 is not an HTTP status"),
        ("ts", "yesterday", "ts: not an RFC 3339 time"),
        ("method", 12, "method: expected a string"),
        ("path", None, "path: missing"),
        ("request_headers", "x", "request_headers: expected an object"),
        ("duration_ms", "fast", "duration_ms: expected a number"),
    ],
)
def test_it_names_the_field_of_a_bad_record(post_logs, field, value, message):
    bad = record(1, **{field: value})
    response = post_logs([record(0), bad], fmt="native")
    assert response.json()["accepted"] == 1
    assert response.json()["errors"][0]["error"].startswith(message)


def test_it_never_stores_secret_headers_or_credentials_in_queries(post_logs):
    rec = record(
        1,
        path="/v1/orders/1?token=abc123&page=2&api_key=k",
        request_headers={"Authorization": "Bearer s3cret", "Cookie": "sid=1", "If-Match": '"v1"'},
        response_headers={"Set-Cookie": "sid=2", "ETag": '"v2"'},
    )
    post_logs([rec])
    row = Request.objects.get()
    assert row.request_headers == {"if-match": '"v1"'}
    assert row.response_headers == {"etag": '"v2"'}
    assert row.query == "token=[redacted]&page=2&api_key=[redacted]"
    stored = json.dumps(list(Request.objects.values()), default=str)
    assert "s3cret" not in stored and "abc123" not in stored and "sid=" not in stored


def test_it_names_the_missing_field_of_a_native_record_without_format(post_logs):
    bad = record(2)
    del bad["status"]
    response = post_logs([record(1), bad])
    assert response.status_code == 200
    assert response.json()["errors"] == [{"index": 1, "error": "status: missing"}]


def test_it_still_says_no_format_recognises_a_record_with_one_native_key(post_logs):
    response = post_logs([record(1), {"path": "/x", "hello": "world"}])
    assert "no known format recognises it" in response.json()["errors"][0]["error"]


def test_the_cycle_collector_runs_again_after_a_body_whatever_its_outcome(post_logs):
    assert gc.isenabled()
    assert post_logs([record(1)]).status_code == 200
    assert gc.isenabled()
    assert post_logs("{not json", content_type="application/json").status_code == 400
    assert gc.isenabled()


def test_records_of_another_format_name_the_format_that_reads_them(post_logs, shop):
    """Caddy's log sent with ?format=nginx: each error says which format reads the record."""
    caddy = (SHARED / "caddy" / "access.ndjson").read_bytes()
    response = post_logs(caddy, fmt="nginx", content_type="application/x-ndjson")
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert errors and all(
        e["error"] == 'msec: missing; log "msec":"$msec" (request end, epoch seconds); '
        "it reads as format caddy"
        for e in errors
    )
