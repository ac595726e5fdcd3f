"""POST /ingest/otlp/v1/traces and /v1/logs: the OTLP/HTTP answer contract."""

import gzip
import json

import pytest
from django.test import override_settings
from google.rpc.status_pb2 import Status
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from ingest.formats import otlp
from ingest.models import IngestBatch, Request
from tests.ingest.otlp_spans import json_span
from tests.ingest.samples import SHARED

TRACES = "/ingest/otlp/v1/traces"
LOGS = "/ingest/otlp/v1/logs"
PROTOBUF = "application/x-protobuf"


def traces_json() -> bytes:
    return (SHARED / "otlp" / "traces.json").read_bytes()


def traces_protobuf() -> bytes:
    return otlp.parse_traces_json(traces_json()).SerializeToString()


def logs_protobuf() -> bytes:
    return otlp.parse_logs_json((SHARED / "otlp" / "logs.json").read_bytes()).SerializeToString()


@pytest.fixture
def export(client, token, django_capture_on_commit_callbacks):
    def post(url, body, *, content_type=PROTOBUF, auth=True, gzipped=False):
        headers = {"HTTP_X_CONFLICTWATCH_TOKEN": token} if auth else {}
        if gzipped:
            body = gzip.compress(body)
            headers["HTTP_CONTENT_ENCODING"] = "gzip"
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(url, body, content_type=content_type, **headers)

    return post


def status_of(response) -> Status:
    if response["Content-Type"] == PROTOBUF:
        return Status.FromString(response.content)
    return Status(message=response.json()["message"])


def test_it_stores_the_server_spans_of_a_protobuf_export(export):
    response = export(TRACES, traces_protobuf())
    assert response.status_code == 200
    assert response["Content-Type"] == PROTOBUF
    answer = ExportTraceServiceResponse.FromString(response.content)
    assert not answer.HasField("partial_success")
    assert Request.objects.count() == 9


def test_it_answers_a_json_export_in_json(export):
    response = export(TRACES, traces_json(), content_type="application/json")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json() == {}
    assert Request.objects.count() == 9


def test_it_accepts_gzip(export):
    assert export(TRACES, traces_protobuf(), gzipped=True).status_code == 200
    assert Request.objects.count() == 9


def test_it_stores_http_log_records(export):
    response = export(LOGS, logs_protobuf())
    assert response.status_code == 200
    assert not ExportLogsServiceResponse.FromString(response.content).HasField("partial_success")
    assert Request.objects.count() == 9


def test_a_resent_export_is_stored_once(export):
    export(TRACES, traces_protobuf())
    assert export(TRACES, traces_protobuf()).status_code == 200
    assert Request.objects.count() == 9


def _export_body(*spans: dict) -> bytes:
    body = {"resourceSpans": [{"scopeSpans": [{"spans": list(spans)}]}]}
    return json.dumps(body).encode()


GOOD = {"http.request.method": "PUT", "url.path": "/v1/orders/42", "http.response.status_code": 412}


def test_partial_success_counts_what_mapping_and_normalization_rejected(export):
    body = _export_body(
        json_span(span_id="00000000000000a1", attributes=GOOD),
        json_span(
            span_id="00000000000000a2", attributes={"http.request.method": "GET", "url.path": "/x"}
        ),
        json_span(
            span_id="00000000000000a3", attributes=GOOD | {"url.path": "/" + "a" * (1 << 20)}
        ),
        json_span(span_id="00000000000000a4", attributes=GOOD | {"http.response.status_code": 999}),
    )
    response = export(TRACES, body, content_type="application/json")
    assert response.status_code == 200
    partial = response.json()["partialSuccess"]
    assert partial["rejectedSpans"] == "3"
    message = partial["errorMessage"]
    assert "span 00000000000000a2: no HTTP status attribute" in message
    assert "span 00000000000000a3: path: " in message and "over the limit" in message
    assert "span 00000000000000a4: status: 999 is not an HTTP status" in message
    assert list(Request.objects.values_list("status", flat=True)) == [412]
    assert IngestBatch.objects.get().rejected == 3


def test_partial_success_in_protobuf(export):
    body = otlp.parse_traces_json(
        _export_body(
            json_span(span_id="00000000000000a1", attributes=GOOD),
            json_span(span_id="00000000000000a2", attributes={"http.method": "GET"}),
        )
    ).SerializeToString()
    response = export(TRACES, body)
    answer = ExportTraceServiceResponse.FromString(response.content)
    assert answer.partial_success.rejected_spans == 1
    assert "no HTTP path attribute" in answer.partial_success.error_message


def test_an_export_with_nothing_usable_is_still_200_with_partial_success(export):
    response = export(
        TRACES,
        _export_body(json_span(span_id="00000000000000a2", attributes={"http.method": "GET"})),
        content_type="application/json",
    )
    assert response.status_code == 200
    assert response.json()["partialSuccess"]["rejectedSpans"] == "1"


@pytest.mark.parametrize(
    "body",
    [
        b"\x0a\xff\xff\xff\xff\x0f",  # a length far past the end
        b"\xff\xff\xff",
        b"\x0a\x05hello",  # resource_spans holding bytes that are not a message
        b"\x0a" * 5000,
        traces_protobuf()[:-7],
    ],
)
def test_a_malformed_protobuf_body_is_400_never_500(export, body):
    response = export(TRACES, body)
    assert response.status_code == 400
    assert response["Content-Type"] == PROTOBUF
    assert "not an OTLP protobuf" in status_of(response).message


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited protobuf field."""
    return bytes([number << 3 | 2]) + _varint(len(payload)) + payload


def test_a_span_attribute_nested_10000_deep_is_400(export):
    value = b""
    for _ in range(10_000):
        value = _field(5, _field(1, value))  # AnyValue.array_value -> ArrayValue.values
    attribute = _field(1, b"deep") + _field(2, value)  # KeyValue
    span = _field(9, attribute)  # Span.attributes
    body = _field(1, _field(2, _field(2, span)))  # resource_spans -> scope_spans -> spans
    response = export(TRACES, body)
    assert response.status_code == 400
    assert "not an OTLP protobuf" in status_of(response).message


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


@pytest.mark.parametrize("body", [b"{", b"[]", b'{"resourceSpans": 5}', b"\xff\xfe"])
def test_malformed_json_is_400_in_json(export, body):
    response = export(TRACES, body, content_type="application/json")
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert response.json()["message"].startswith("body: ")


def test_a_missing_token_is_401(export):
    response = export(TRACES, traces_protobuf(), auth=False)
    assert response.status_code == 401
    assert "token" in status_of(response).message


def test_the_bearer_header_works_too(client, token):
    response = client.post(
        TRACES, traces_protobuf(), content_type=PROTOBUF, HTTP_AUTHORIZATION=f"Bearer {token}"
    )
    assert response.status_code == 200


def test_another_content_type_is_415(export):
    response = export(TRACES, traces_json(), content_type="text/plain")
    assert response.status_code == 415
    assert "content type" in status_of(response).message


def test_another_content_encoding_is_415(client, token):
    response = client.post(
        TRACES,
        traces_protobuf(),
        content_type=PROTOBUF,
        HTTP_X_CONFLICTWATCH_TOKEN=token,
        HTTP_CONTENT_ENCODING="br",
    )
    assert response.status_code == 415


@override_settings(CONFLICTWATCH_MAX_BODY_BYTES=1024)
def test_an_oversized_export_is_413(export):
    response = export(TRACES, traces_protobuf())
    assert response.status_code == 413


def test_a_full_backlog_is_429_with_retry_after(export, shop):
    IngestBatch.objects.bulk_create([IngestBatch(project=shop) for _ in range(3)])
    with override_settings(CONFLICTWATCH_MAX_PENDING_BATCHES=2):
        response = export(TRACES, traces_protobuf())
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert Request.objects.count() == 0


def test_get_is_405(client):
    assert client.get(TRACES).status_code == 405
    assert client.get(LOGS).status_code == 405
