"""The real OpenTelemetry SDK exporters (OTLP/HTTP protobuf and OTLP/HTTP JSON) pointed at a
live server: HTTP server spans become requests; a malformed body is a 400, not a 500."""

import httpx
import pytest
from google.rpc.status_pb2 import Status
from opentelemetry.exporter.otlp.common.http import Compression as JsonCompression
from opentelemetry.exporter.otlp.json.http.trace_exporter import (
    OTLPSpanExporter as JsonSpanExporter,
)
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from ingest.models import Request
from ingest.sources import create_source

PATH = "/ingest/otlp/v1/traces"


@pytest.fixture
def token(transactional_db) -> str:
    _, tok = create_source("otel-shop", "orders-api")
    return tok


def server_spans(name: str) -> list:
    """Finished spans of a small app: two HTTP server spans and an internal one."""
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": name}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("orders")
    with tracer.start_as_current_span(
        "PUT /v1/orders/{id}",
        kind=SpanKind.SERVER,
        attributes={
            "http.request.method": "PUT",
            "url.path": "/v1/orders/42",
            "url.query": "force=1",
            "http.route": "/v1/orders/{id}",
            "http.response.status_code": 412,
            "server.address": "api.shop.example",
            "client.address": "10.20.4.17",
            "enduser.id": "billing-svc",
            "http.request.header.if-match": ['"v6"'],
            "http.request.header.authorization": ["Bearer s3cret"],
            "http.response.header.etag": ['"v7"'],
        },
    ):
        with tracer.start_as_current_span("SELECT orders", kind=SpanKind.CLIENT):
            pass
    with tracer.start_as_current_span(
        "POST",
        kind=SpanKind.SERVER,
        attributes={
            "http.method": "POST",  # the older semantic conventions
            "http.target": "/v1/orders",
            "http.status_code": 409,
            "http.request.header.idempotency-key": ["k-1"],
        },
    ):
        pass
    provider.shutdown()
    return memory.get_finished_spans()


def assert_stored(service: str) -> None:
    rows = {row.method: row for row in Request.objects.filter(service=service)}
    assert set(rows) == {"PUT", "POST"}
    put = rows["PUT"]
    assert (put.path, put.query, put.route, put.status) == (
        "/v1/orders/42",
        "force=1",
        "/v1/orders/{id}",
        412,
    )
    assert (put.client, put.client_ip, put.host) == (
        "billing-svc",
        "10.20.4.17",
        "api.shop.example",
    )
    assert put.request_headers == {"if-match": '"v6"'}
    assert put.response_headers == {"etag": '"v7"'}
    assert put.duration_ms is not None and put.duration_ms >= 0
    post = rows["POST"]
    assert (post.path, post.route, post.status) == ("/v1/orders", "/v1/orders", 409)
    assert post.request_headers == {"idempotency-key": "k-1"}


def test_the_protobuf_exporter_delivers_server_spans(live_server, token):
    exporter = OTLPSpanExporter(
        endpoint=live_server.url + PATH,
        headers={"X-ConflictWatch-Token": token},
        compression=Compression.Gzip,
    )
    assert exporter.export(server_spans("orders-protobuf")) == SpanExportResult.SUCCESS
    exporter.shutdown()
    assert_stored("orders-protobuf")


def test_the_json_exporter_delivers_server_spans(live_server, token):
    exporter = JsonSpanExporter(
        endpoint=live_server.url + PATH,
        headers={"Authorization": f"Bearer {token}"},
        compression=JsonCompression.GZIP,
    )
    assert exporter.export(server_spans("orders-json")) == SpanExportResult.SUCCESS
    exporter.shutdown()
    assert_stored("orders-json")


def test_an_exporter_with_a_wrong_token_fails_without_retrying(live_server, token):
    exporter = OTLPSpanExporter(
        endpoint=live_server.url + PATH, headers={"X-ConflictWatch-Token": "cw_wrong"}, timeout=5
    )
    assert exporter.export(server_spans("orders-wrong")) == SpanExportResult.FAILURE
    exporter.shutdown()
    assert not Request.objects.exists()


def test_a_malformed_protobuf_body_is_400(live_server, token):
    response = httpx.post(
        live_server.url + PATH,
        content=b"\x0a\xff\xff\xff\xff\x0f\x00garbage",
        headers={"Content-Type": "application/x-protobuf", "X-ConflictWatch-Token": token},
    )
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/x-protobuf"
    assert "not an OTLP protobuf" in Status.FromString(response.content).message
