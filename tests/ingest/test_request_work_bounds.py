"""The work one ingest request can cost is bounded: gzip is inflated in time linear in the body
and with a bounded number of members, and a body holds at most MAX_RECORDS records, so that a
few requests cannot occupy every worker. (bench/hostile.py times these bodies.)"""

import base64
import gzip
import json

from google.rpc.status_pb2 import Status
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from ingest.decode import MAX_GZIP_MEMBERS, MAX_RECORDS
from ingest.models import Request
from tests.records import record

MEMBER = gzip.compress(b"\n", mtime=0)


def test_a_million_member_gzip_body_is_refused_with_400(post_logs, settings):
    settings.CONFLICTWATCH_MAX_BODY_BYTES = 32 * 1024 * 1024  # let it reach the inflater
    body = MEMBER * 1_000_000
    response = post_logs(body, headers={"HTTP_CONTENT_ENCODING": "gzip"})
    assert response.status_code == 400
    assert response.json()["error"] == (
        f"body has more than {MAX_GZIP_MEMBERS} gzip members; compress the body as one gzip stream"
    )


def test_a_million_member_body_within_the_size_limit_is_refused_as_well(post_logs):
    body = MEMBER * ((20 * 1024 * 1024) // len(MEMBER))
    response = post_logs(body, headers={"HTTP_CONTENT_ENCODING": "gzip"})
    assert response.status_code == 400


def test_concatenated_gzip_members_up_to_the_limit_are_read(post_logs):
    first = gzip.compress(json.dumps(record(1)).encode() + b"\n")
    last = gzip.compress(json.dumps(record(2)).encode() + b"\n")
    empty = gzip.compress(b"")
    body = first + empty * (MAX_GZIP_MEMBERS - 2) + last
    response = post_logs(body, headers={"HTTP_CONTENT_ENCODING": "gzip"})
    assert response.status_code == 200
    assert response.json()["accepted"] == 2


def test_a_body_of_more_records_than_allowed_is_refused_with_413(post_logs):
    response = post_logs(b"x\n" * (MAX_RECORDS + 1), content_type="text/plain")
    assert response.status_code == 413
    assert response.json()["error"] == (
        f"body holds more than {MAX_RECORDS} records; send smaller batches"
    )
    array = b"[" + b",".join([b"{}"] * (MAX_RECORDS + 1)) + b"]"
    assert post_logs(array, content_type="application/json").status_code == 413
    assert Request.objects.count() == 0


def test_a_firehose_delivery_of_too_many_records_is_refused_with_413(post_logs):
    data = base64.b64encode(b"{}\n" * (MAX_RECORDS + 1)).decode()
    delivery = {"requestId": "r-1", "timestamp": 0, "records": [{"data": data}]}
    response = post_logs(
        json.dumps(delivery),
        fmt="aws",
        content_type="application/json",
        headers={"HTTP_X_AMZ_FIREHOSE_REQUEST_ID": "r-1"},
    )
    assert response.status_code == 413
    assert "more than" in response.json()["errorMessage"]


def test_an_otlp_export_of_too_many_spans_is_refused_with_413_before_mapping(client, token):
    export = ExportTraceServiceRequest()
    spans = export.resource_spans.add().scope_spans.add().spans
    for _ in range(MAX_RECORDS + 1):
        spans.add(kind=2)
    response = client.post(
        "/ingest/otlp/v1/traces",
        export.SerializeToString(),
        content_type="application/x-protobuf",
        HTTP_X_CONFLICTWATCH_TOKEN=token,
    )
    assert response.status_code == 413
    assert "more than" in Status.FromString(response.content).message
    body = json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [{}] * (MAX_RECORDS + 1)}]}]})
    response = client.post(
        "/ingest/otlp/v1/traces",
        body,
        content_type="application/json",
        HTTP_X_CONFLICTWATCH_TOKEN=token,
    )
    assert response.status_code == 413


def test_otlp_refuses_a_gzip_body_of_too_many_members_with_400(client, token):
    body = MEMBER * (MAX_GZIP_MEMBERS + 1)
    response = client.post(
        "/ingest/otlp/v1/traces",
        body,
        content_type="application/x-protobuf",
        HTTP_CONTENT_ENCODING="gzip",
        HTTP_X_CONFLICTWATCH_TOKEN=token,
    )
    assert response.status_code == 400
    assert "gzip members" in Status.FromString(response.content).message
