"""OTLP/HTTP: POST /ingest/otlp/v1/traces and /ingest/otlp/v1/logs.

Answers as the OTLP/HTTP specification says: 200 with an `Export*ServiceResponse` in the
request's encoding (protobuf or JSON), whose `partial_success` counts the spans or log records
that could not be used and says why; failures carry a `google.rpc.Status` with the message, in
the request's encoding. 400 for a body that does not decode (never 500), 401 for a bad token,
413 over the size limit, 415 for another content type or encoding, 429 and 503 with Retry-After
(exporters retry those). The records go through the same normalize → store path as every other
door.
"""

from collections.abc import Callable
from dataclasses import dataclass

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from google.protobuf import json_format
from google.protobuf.message import DecodeError, Message
from google.rpc.status_pb2 import Status
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from ingest import problems
from ingest.decode import BodyError
from ingest.formats import otlp, otlp_json
from ingest.intake import Refused, authenticate, database_errors_refused, media_type, receive
from ingest.pipeline import ingest_mapped
from ingest.record import RecordError

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
TOKEN_HINT = (
    "send X-ConflictWatch-Token: <token> or Authorization: Bearer <token> "
    "(OTEL_EXPORTER_OTLP_HEADERS)"
)
MAX_MESSAGE = 2000


@dataclass(frozen=True)
class Signal:
    request: type[Message]
    response: type[Message]
    map: Callable[[Message], otlp.Mapped]
    map_json: Callable[[bytes], otlp.Mapped]
    partial_success_field: str
    what: str


TRACES = Signal(
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
    otlp.map_traces,
    otlp_json.map_traces,
    "rejected_spans",
    "spans",
)
LOGS = Signal(
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
    otlp.map_logs,
    otlp_json.map_logs,
    "rejected_log_records",
    "log records",
)


def _encode(message: Message, as_json: bool, status: int = 200, retry_after=None) -> HttpResponse:
    if as_json:
        body, content_type = json_format.MessageToJson(message, indent=None), JSON
    else:
        body, content_type = message.SerializeToString(), PROTOBUF
    response = HttpResponse(body, status=status, content_type=content_type)
    if retry_after is not None:
        response["Retry-After"] = str(retry_after)
    return response


def _map(signal: Signal, body: bytes, media: str) -> otlp.Mapped:
    if media == JSON:
        try:
            return signal.map_json(body)
        except RecordError as exc:
            raise Refused(400, str(exc)) from None
    try:
        message = signal.request.FromString(body)
    except (DecodeError, RecursionError, ValueError) as exc:
        raise Refused(400, f"body: not an OTLP protobuf {signal.request.__name__}: {exc}") from None
    return signal.map(message)


def _partial_success_message(rejected: int, reasons: list[str]) -> str:
    message = "; ".join(reasons)
    if rejected > len(reasons):
        message += f"; and {rejected - len(reasons)} more"
    return message[:MAX_MESSAGE]


def _export(request: HttpRequest, signal: Signal) -> HttpResponse:
    media = media_type(request)
    as_json = media == JSON
    source = None
    try:
        with database_errors_refused():
            source = authenticate(request, TOKEN_HINT)
            if media not in (PROTOBUF, JSON):
                raise Refused(
                    415,
                    f"unsupported content type {media[:60] or '(none)'!r}; send {PROTOBUF} or {JSON}",
                )
            try:
                mapped = _map(signal, receive(request, source), media)
                outcome, reasons = ingest_mapped(
                    source, mapped.records, mapped.refs, mapped.rejected, mapped.reasons
                )
            except BodyError as exc:
                raise Refused(exc.status, exc.message) from None
    except Refused as refused:
        problems.record(source, refused.status, refused.message)
        status = Status(message=refused.message[:MAX_MESSAGE])
        return _encode(status, as_json, refused.status, refused.retry_after)
    response = signal.response()
    if outcome.rejected:
        partial = response.partial_success
        setattr(partial, signal.partial_success_field, outcome.rejected)
        partial.error_message = _partial_success_message(outcome.rejected, reasons)
    return _encode(response, as_json)


@csrf_exempt
@require_POST
def traces(request: HttpRequest) -> HttpResponse:
    return _export(request, TRACES)


@csrf_exempt
@require_POST
def logs(request: HttpRequest) -> HttpResponse:
    return _export(request, LOGS)
