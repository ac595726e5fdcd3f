"""OpenTelemetry SERVER spans and HTTP log records map to native records."""

import json
from pathlib import Path

import pytest
from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from ingest.formats import otlp
from ingest.normalize import normalize
from ingest.record import RecordError
from tests.ingest.otlp_spans import json_span
from tests.ingest.samples import SHARED, moved_text

OTLP = SHARED / "otlp"
needs_samples = pytest.mark.skipif(not OTLP.is_dir(), reason=f"no OTLP samples at {OTLP}")


def _ts(record) -> str:
    return record.ts.strftime("%Y-%m-%dT%H:%M:%S.") + f"{record.ts.microsecond // 1000:03d}Z"


def _assert_matches(mapped: otlp.Mapped, expected_file: Path) -> None:
    expected = json.loads(expected_file.read_text())
    records = [normalize(r) for r in mapped.records]
    assert len(records) == len(expected)
    for index, (record, want) in enumerate(zip(records, expected, strict=True)):
        for name, value in want.items():
            got = _ts(record) if name == "ts" else getattr(record, name)
            if name == "duration_ms":
                assert got == pytest.approx(value, abs=0.001), f"record {index} {name}"
            else:
                assert got == value, f"record {index} {name}"


@needs_samples
def test_server_spans_of_the_json_sample_map_to_the_expected_records():
    request = otlp.parse_traces_json((OTLP / "traces.json").read_bytes())
    mapped = otlp.map_traces(request)
    assert (mapped.rejected, mapped.error_message) == (0, "")
    _assert_matches(mapped, OTLP / "expected" / "traces.json")


@needs_samples
def test_log_records_of_the_json_sample_map_to_the_expected_records():
    request = otlp.parse_logs_json((OTLP / "logs.json").read_bytes())
    mapped = otlp.map_logs(request)
    assert mapped.rejected == 0
    _assert_matches(mapped, OTLP / "expected" / "logs.json")


@needs_samples
def test_protobuf_bodies_map_like_json_ones():
    from_json = otlp.parse_traces_json((OTLP / "traces.json").read_bytes())
    from_protobuf = ExportTraceServiceRequest.FromString(from_json.SerializeToString())
    assert otlp.map_traces(from_protobuf).records == otlp.map_traces(from_json).records
    logs = otlp.parse_logs_json((OTLP / "logs.json").read_bytes())
    logs_protobuf = ExportLogsServiceRequest.FromString(logs.SerializeToString())
    assert otlp.map_logs(logs_protobuf).records == otlp.map_logs(logs).records


@needs_samples
def test_hex_trace_and_span_ids_of_otlp_json_are_read_as_hex():
    body = json.loads((OTLP / "traces.json").read_text())
    span = body["resourceSpans"][0]["scopeSpans"][0]["spans"][1]
    request = otlp.parse_traces_json(json.dumps(body))
    parsed = request.resource_spans[0].scope_spans[0].spans[1]
    assert parsed.trace_id.hex() == span["traceId"]
    assert parsed.span_id.hex() == span["spanId"]
    assert parsed.parent_span_id.hex() == span["parentSpanId"]


@needs_samples
def test_a_leaked_authorization_header_attribute_is_never_kept():
    body = (OTLP / "logs.json").read_bytes()
    assert b"http.request.header.authorization" in body
    for record in otlp.map_logs(otlp.parse_logs_json(body)).records:
        assert "authorization" not in record["request_headers"]
        assert "authorization" not in normalize(record).request_headers


def _traces(*spans: dict) -> ExportTraceServiceRequest:
    body = {
        "resourceSpans": [
            {
                "resource": {
                    "attributes": [{"key": "service.name", "value": {"stringValue": "shop"}}]
                },
                "scopeSpans": [{"spans": list(spans)}],
            }
        ]
    }
    return otlp.parse_traces_json(json.dumps(body).encode())


def test_it_reads_the_older_http_semantic_conventions():
    span = json_span(
        {
            "http.method": "PUT",
            "http.target": "/v1/orders/42?force=1",
            "http.status_code": 409,
            "http.host": "api.shop.example",
            "net.peer.ip": "198.51.100.7",
            "http.user_agent": "curl/8.5",
            "http.request_content_length": 12,
            "http.request.header.if-match": ['"v6"'],
        }
    )
    (record,) = otlp.map_traces(_traces(span)).records
    out = normalize(record)
    assert (out.method, out.path, out.query, out.status) == ("PUT", "/v1/orders/42", "force=1", 409)
    assert (out.host, out.client_ip, out.client, out.user_agent) == (
        "api.shop.example",
        "198.51.100.7",
        "198.51.100.7",
        "curl/8.5",
    )
    assert (out.service, out.request_bytes, out.route) == ("shop", 12, "/v1/orders/{id}")
    assert out.request_headers == {"if-match": '"v6"'}
    assert out.duration_ms == pytest.approx(12.043871)


def test_it_reads_a_full_http_url():
    span = json_span(
        {"http.method": "GET", "http.url": "https://h.example/a/b?c=d", "http.status_code": 200}
    )
    out = normalize(otlp.map_traces(_traces(span)).records[0])
    assert (out.path, out.query) == ("/a/b", "c=d")


def test_other_span_kinds_and_non_http_server_spans_are_skipped_not_rejected():
    client = json_span(
        {"http.request.method": "GET", "url.path": "/", "http.response.status_code": 200}, kind=3
    )
    grpc = json_span({"rpc.system": "grpc", "rpc.method": "Get"})
    mapped = otlp.map_traces(_traces(client, grpc))
    assert (mapped.records, mapped.rejected) == ([], 0)


def test_an_http_server_span_without_a_status_is_rejected_with_a_reason():
    broken = json_span({"http.request.method": "GET", "url.path": "/v1/orders"})
    no_start = json_span(
        {"http.request.method": "GET", "url.path": "/", "http.response.status_code": 200},
        start="0",
    )
    fine = json_span(
        {"http.request.method": "GET", "url.path": "/", "http.response.status_code": 200}
    )
    mapped = otlp.map_traces(_traces(broken, no_start, fine))
    assert (len(mapped.records), mapped.rejected) == (1, 2)
    assert "no HTTP status attribute" in mapped.error_message
    assert "startTimeUnixNano missing" in mapped.error_message


def test_a_log_record_without_a_time_uses_the_observed_time():
    body = {
        "resourceLogs": [
            {
                "scopeLogs": [
                    {
                        "logRecords": [
                            {
                                "observedTimeUnixNano": moved_text("1741944413604356328"),
                                "attributes": json_span(
                                    {
                                        "http.request.method": "GET",
                                        "url.path": "/x",
                                        "http.response.status_code": 204,
                                    }
                                )["attributes"],
                            }
                        ]
                    }
                ]
            }
        ]
    }
    (record,) = otlp.map_logs(otlp.parse_logs_json(json.dumps(body))).records
    assert _ts(normalize(record)) == moved_text("2025-03-14T09:26:53.604Z")
    assert record.get("duration_ms") is None


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "zz"}]}]}]}',
        b'{"resourceSpans": "x"}',
        b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"startTimeUnixNano": "soon"}]}]}]}',
    ],
)
def test_unreadable_otlp_json_is_a_record_error(body):
    with pytest.raises(RecordError):
        otlp.parse_traces_json(body)


def test_spans_from_the_opentelemetry_sdk_map_to_records():
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "orders-api"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span("POST /v1/orders", kind=SpanKind.SERVER) as span:
        span.set_attribute("http.request.method", "POST")
        span.set_attribute("url.path", "/v1/orders")
        span.set_attribute("http.route", "/v1/orders")
        span.set_attribute("http.response.status_code", 409)
        span.set_attribute("enduser.id", "billing-svc")
        span.set_attribute("http.request.header.idempotency-key", ["k-1"])
        with tracer.start_as_current_span("SELECT orders"):
            pass
    request = ExportTraceServiceRequest.FromString(
        encode_spans(exporter.get_finished_spans()).SerializeToString()
    )
    mapped = otlp.map_traces(request)
    (record,) = [normalize(r) for r in mapped.records]
    assert (record.method, record.status, record.client, record.service) == (
        "POST",
        409,
        "billing-svc",
        "orders-api",
    )
    assert record.request_headers == {"idempotency-key": "k-1"}
    assert record.duration_ms is not None


def test_log_encoder_output_without_http_attributes_is_skipped():
    assert otlp.map_logs(encode_logs([])).records == []
