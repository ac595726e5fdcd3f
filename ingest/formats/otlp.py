"""OpenTelemetry: SERVER spans and HTTP log records -> native-shaped dicts.

Takes the official `ExportTraceServiceRequest` / `ExportLogsServiceRequest` messages (protobuf
bodies parse with `FromString`). The endpoints map OTLP/JSON bodies with
ingest/formats/otlp_json.py, by the same rules; `parse_traces_json` / `parse_logs_json` turn
such a body into the protobuf message (hex ids included) for tools and tests. Reads the current
HTTP semantic conventions (`http.request.method`, `url.path`, `http.response.status_code`, ...)
and the older names (`http.method`, `http.target`, `http.url`, `http.status_code`, ...).

Only SERVER spans (kind 2) are requests; other spans are skipped, not rejected. A SERVER span or
log record that has HTTP attributes but cannot be read is rejected with a reason, for OTLP's
partial success answer.
"""

import base64
import binascii
from collections.abc import Iterable
from dataclasses import dataclass, field

import msgspec
from google.protobuf import json_format
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from ingest.normalize import ALLOWED_HEADERS, SECRET_HEADERS
from ingest.record import RecordError

SPAN_KIND_SERVER = 2
MAX_REASONS = 20
_decoder = msgspec.json.Decoder()

_REQUEST_HEADER = "http.request.header."
_RESPONSE_HEADER = "http.response.header."
# Log duration: ConflictWatch's convention (seconds, like the metric of the same name).
LOG_DURATION_ATTRIBUTE = "http.server.request.duration"


@dataclass
class Mapped:
    """What a request maps to: native-shaped dicts, plus the count and reasons of rejects."""

    records: list[dict] = field(default_factory=list)
    # What each record came from ("span 00f0…", "log record 3"), for normalize's errors.
    refs: list[str] = field(default_factory=list)
    rejected: int = 0
    reasons: list[str] = field(default_factory=list)

    def reject(self, reason: str) -> None:
        self.rejected += 1
        if len(self.reasons) < MAX_REASONS:
            self.reasons.append(reason)

    @property
    def error_message(self) -> str:
        """One line for `partial_success.error_message` ("" when nothing was rejected)."""
        if not self.rejected:
            return ""
        more = self.rejected - len(self.reasons)
        return "; ".join(self.reasons) + (f"; and {more} more" if more > 0 else "")


# --- OTLP/JSON -----------------------------------------------------------------------------

_ID_KEYS = ("traceId", "spanId", "parentSpanId")


def _hex_ids_to_base64(node: dict) -> None:
    # OTLP/JSON writes ids as hex; protobuf's JSON mapping reads bytes as base64.
    for key in _ID_KEYS:
        value = node.get(key)
        if isinstance(value, str) and value:
            try:
                node[key] = base64.b64encode(bytes.fromhex(value)).decode("ascii")
            except ValueError:
                raise RecordError(f"{key}: not a hex id: {value[:40]!r}") from None


def _items(node, key: str) -> list:
    value = node.get(key) if isinstance(node, dict) else None
    return value if isinstance(value, list) else []


def _decode_json(body: bytes | str) -> dict:
    try:
        data = _decoder.decode(body)
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise RecordError(f"body: not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise RecordError("body: expected a JSON object")
    return data


def _parse(data: dict, message):
    try:
        return json_format.ParseDict(data, message, ignore_unknown_fields=True)
    except (json_format.ParseError, binascii.Error, ValueError, TypeError, RecursionError) as exc:
        raise RecordError(f"body: not an OTLP/JSON request: {str(exc)[:200]}") from None


def parse_traces_json(body: bytes | str) -> ExportTraceServiceRequest:
    """An OTLP/JSON traces body -> ExportTraceServiceRequest; raises RecordError."""
    data = _decode_json(body)
    for resource_spans in _items(data, "resourceSpans"):
        for scope_spans in _items(resource_spans, "scopeSpans"):
            for span in _items(scope_spans, "spans"):
                if isinstance(span, dict):
                    _hex_ids_to_base64(span)
                    for link in _items(span, "links"):
                        if isinstance(link, dict):
                            _hex_ids_to_base64(link)
    return _parse(data, ExportTraceServiceRequest())


def parse_logs_json(body: bytes | str) -> ExportLogsServiceRequest:
    """An OTLP/JSON logs body -> ExportLogsServiceRequest; raises RecordError."""
    data = _decode_json(body)
    for resource_logs in _items(data, "resourceLogs"):
        for scope_logs in _items(resource_logs, "scopeLogs"):
            for record in _items(scope_logs, "logRecords"):
                if isinstance(record, dict):
                    _hex_ids_to_base64(record)
    return _parse(data, ExportLogsServiceRequest())


# --- attributes ----------------------------------------------------------------------------


_SCALARS = frozenset({"string_value", "int_value", "double_value", "bool_value"})


def _value(any_value):
    kind = any_value.WhichOneof("value")
    if kind in _SCALARS:
        return getattr(any_value, kind)
    if kind == "array_value":
        return [_value(v) for v in any_value.array_value.values]
    return None  # bytes, kvlist and unset values carry nothing a request field uses


# The attributes a native record reads (current semantic conventions, then older names).
_KNOWN = frozenset(
    {
        "http.request.method",
        "http.request.method_original",
        "http.method",
        "url.path",
        "url.query",
        "http.target",
        "url.full",
        "http.url",
        "http.response.status_code",
        "http.status_code",
        "server.address",
        "http.host",
        "net.host.name",
        "http.server_name",
        "http.route",
        "http.request.body.size",
        "http.request_content_length",
        "http.response.body.size",
        "http.response_content_length",
        "enduser.id",
        "user.id",
        "client.address",
        "http.client_ip",
        "net.peer.ip",
        "user_agent.original",
        "http.user_agent",
        LOG_DURATION_ATTRIBUTE,
    }
)
# The integer ones among them; the others are strings (but the duration, a double).
_INT_ATTRIBUTES = frozenset(
    {
        "http.response.status_code",
        "http.status_code",
        "http.request.body.size",
        "http.request_content_length",
        "http.response.body.size",
        "http.response_content_length",
    }
)
_REQUEST_HEADER_LEN = len(_REQUEST_HEADER)
_RESPONSE_HEADER_LEN = len(_RESPONSE_HEADER)
# What to do with each attribute a record reads, looked up once per attribute:
# (where it goes, the name it goes by there).
STRING, INT, REQUEST, RESPONSE = range(4)
ATTRIBUTE_PLAN = {
    **{key: (INT if key in _INT_ATTRIBUTES else STRING, key) for key in _KNOWN},
    **{_REQUEST_HEADER + name: (REQUEST, name) for name in ALLOWED_HEADERS},
    **{_RESPONSE_HEADER + name: (RESPONSE, name) for name in ALLOWED_HEADERS},
}


def _header_value(any_value) -> str | None:
    # Semconv header attributes are string arrays; a lone string is accepted too.
    values = any_value.array_value.values  # empty unless the value is an array
    if values:
        if len(values) == 1:
            return values[0].string_value
        return ", ".join(v.string_value for v in values if v.string_value)
    if any_value.HasField("string_value"):
        return any_value.string_value
    return None


def _attributes(key_values: Iterable) -> tuple[dict, dict, dict]:
    """One pass over the attributes: (known attributes, request headers, response headers).

    Headers outside the allow-list (and secrets) are skipped here already: normalize would drop
    them, and reading a protobuf value costs more than the rest of the mapping.
    """
    attrs: dict = {}
    request: dict = {}
    response: dict = {}
    for kv in key_values:
        key = kv.key
        plan = ATTRIBUTE_PLAN.get(key)
        if plan is not None:
            where, name = plan
            if where is STRING:
                # Read the type the conventions give the attribute first (one access); a
                # sender that used another type (a status as a string, say) takes the general
                # path.
                value = kv.value
                typed = value.string_value
                attrs[key] = typed if typed else _value(value)
            elif where is INT:
                value = kv.value
                typed = value.int_value
                attrs[key] = typed if typed else _value(value)
            elif where is REQUEST:
                request[name] = _header_value(kv.value)
            else:
                response[name] = _header_value(kv.value)
        elif key[:7] == "http.re" and (target := other_header(key, request, response)):
            # A header a project may have added to its allow-list: keep it for normalize.
            into, name = target
            into[name] = _header_value(kv.value)
    return attrs, request, response


def other_header(key: str, request: dict, response: dict) -> tuple[dict, str] | None:
    """Where a header attribute outside the default allow-list goes (None for a secret or
    another attribute): (request or response headers, its name)."""
    if key.startswith(_REQUEST_HEADER):
        into, name = request, key[_REQUEST_HEADER_LEN:]
    elif key.startswith(_RESPONSE_HEADER):
        into, name = response, key[_RESPONSE_HEADER_LEN:]
    else:
        return None
    return None if name in SECRET_HEADERS else (into, name)


def _first(attrs: dict, *names):
    for name in names:
        value = attrs.get(name)
        if value is not None and value != "":
            return value
    return None


def _path_and_query(attrs: dict) -> tuple[object, object]:
    path = attrs.get("url.path")
    query = attrs.get("url.query")
    if path:
        return path, query or None
    target = _first(attrs, "http.target", "url.full", "http.url")
    if isinstance(target, str):
        # normalize keeps the path and query of a full URL.
        return target, None
    return None, None


def is_http(attrs: dict) -> bool:
    return (
        "http.request.method" in attrs
        or "http.method" in attrs
        or "http.response.status_code" in attrs
        or "http.status_code" in attrs
    )


def _native(attrs: dict, request_headers: dict, response_headers: dict, service) -> dict:
    get = attrs.get
    method = get("http.request.method")
    if method == "_OTHER":
        method = get("http.request.method_original")
    if method is None:
        method = get("http.method")
    path, query = _path_and_query(attrs)
    # The current attribute name, else the older ones (`_first`); most spans carry the current.
    status = get("http.response.status_code")
    if status is None or status == "":
        status = get("http.status_code")
    request_bytes = get("http.request.body.size")
    if request_bytes is None or request_bytes == "":
        request_bytes = get("http.request_content_length")
    response_bytes = get("http.response.body.size")
    if response_bytes is None or response_bytes == "":
        response_bytes = get("http.response_content_length")
    return {
        "method": method,
        "path": path,
        "query": query,
        "status": status,
        "host": get("server.address")
        or _first(attrs, "http.host", "net.host.name", "http.server_name"),
        "route": get("http.route"),
        "service": service,
        "request_bytes": request_bytes,
        "response_bytes": response_bytes,
        "client": get("enduser.id") or get("user.id") or None,
        "client_ip": get("client.address") or _first(attrs, "http.client_ip", "net.peer.ip"),
        "user_agent": get("user_agent.original") or get("http.user_agent") or None,
        "request_id": request_headers.get("x-request-id") or None,
        "request_headers": request_headers,
        "response_headers": response_headers,
    }


def _ns_to_ms(ns: int) -> int:
    return (ns + 500_000) // 1_000_000


def _service(resource) -> str | None:
    for kv in resource.attributes:
        if kv.key == "service.name":
            return kv.value.string_value or None
    return None


def _missing(record: dict) -> str | None:
    for name in ("method", "path", "status"):
        if record.get(name) in (None, ""):
            return name
    return None


def _add(
    mapped: Mapped, parts: tuple, service, ref: str, when: int, when_field: str, duration_ms
) -> None:
    """The record of one span or log record with HTTP attributes, or its reject."""
    attrs, request_headers, response_headers = parts
    if not is_http(attrs):
        return  # a SERVER span of another protocol (gRPC, messaging...), a plain log record
    record = _native(attrs, request_headers, response_headers, service)
    missing = _missing(record)
    if missing:
        mapped.reject(f"{ref}: no HTTP {missing} attribute")
        return
    if not when:
        mapped.reject(f"{ref}: {when_field} missing")
        return
    record["ts"] = _ns_to_ms(when)
    if duration_ms is not None:
        record["duration_ms"] = duration_ms
    mapped.records.append(record)
    mapped.refs.append(ref)


def add_span(mapped: Mapped, parts: tuple, service, ref: str, start: int, end: int) -> None:
    duration_ms = (end - start) / 1e6 if end >= start else None
    _add(mapped, parts, service, ref, start, "startTimeUnixNano", duration_ms)


def add_log(mapped: Mapped, parts: tuple, service, index: int, when: int) -> None:
    seconds = parts[0].get(LOG_DURATION_ATTRIBUTE)
    duration_ms = (
        seconds * 1000
        if isinstance(seconds, int | float) and not isinstance(seconds, bool)
        else None
    )
    _add(mapped, parts, service, f"log record {index}", when, "timeUnixNano", duration_ms)


def map_traces(request: ExportTraceServiceRequest) -> Mapped:
    """Native-shaped dicts for the SERVER spans of an export request (see module docstring)."""
    mapped = Mapped()
    for resource_spans in request.resource_spans:
        service = _service(resource_spans.resource)
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                if span.kind == SPAN_KIND_SERVER:
                    add_span(
                        mapped,
                        _attributes(span.attributes),
                        service,
                        f"span {span.span_id.hex()}",
                        span.start_time_unix_nano,
                        span.end_time_unix_nano,
                    )
    return mapped


def map_logs(request: ExportLogsServiceRequest) -> Mapped:
    """Native-shaped dicts for the log records with HTTP attributes; others are skipped."""
    mapped = Mapped()
    for resource_logs in request.resource_logs:
        service = _service(resource_logs.resource)
        for scope_logs in resource_logs.scope_logs:
            for index, log in enumerate(scope_logs.log_records):
                add_log(
                    mapped,
                    _attributes(log.attributes),
                    service,
                    index,
                    log.time_unix_nano or log.observed_time_unix_nano,
                )
    return mapped
