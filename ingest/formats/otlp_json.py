"""OTLP/JSON bodies mapped straight to native-shaped dicts, by the rules of ingest/formats/otlp.py.

protobuf's own JSON parser is written in Python and takes about twenty times as long as the
mapping, so an OTLP/JSON body is decoded with msgspec into the few parts of the OTLP schema a
record reads (typed, so a body of the wrong shape is refused with the path of the problem) and
mapped from there. What the mapping reads is the same as for protobuf bodies: SERVER spans, log
records with HTTP attributes, the attribute names of the semantic conventions.

OTLP/JSON writes 64-bit integers as decimal strings, ids as hex and enums as numbers; plain
numbers for integers and enum names (`SPAN_KIND_SERVER`) are read too. A value of the wrong type
anywhere the mapping reads (an `intValue` of "abc", say) refuses the whole body, naming where,
as protobuf's own JSON parser does: OTLP answers such a body with 400.
"""

import re

import msgspec

from ingest.formats.otlp import (
    ATTRIBUTE_PLAN,
    INT,
    REQUEST,
    RESPONSE,
    SPAN_KIND_SERVER,
    STRING,
    Mapped,
    add_log,
    add_span,
    check_count,
    other_header,
)
from ingest.record import RecordError

_SPAN_KIND_SERVER_NAME = "SPAN_KIND_SERVER"
_HEX_ID = re.compile(r"(?:[0-9a-fA-F]{2}){0,32}")


# The parts of the OTLP schema a record reads (lowerCamelCase, as OTLP/JSON writes them);
# everything else in a body is skipped unread. Every field may be null, read as its default
# (as protobuf's JSON parser does).
class AnyValue(msgspec.Struct, gc=False):
    stringValue: str | None = None
    intValue: int | None = None
    doubleValue: float | None = None
    boolValue: bool | None = None
    arrayValue: "ArrayValue | None" = None


class ArrayValue(msgspec.Struct, gc=False):
    values: list[AnyValue] | None = None


class KeyValue(msgspec.Struct, gc=False):
    key: str | None = None
    value: AnyValue | None = None


class Resource(msgspec.Struct, gc=False):
    attributes: list[KeyValue] | None = None


class Span(msgspec.Struct, gc=False):
    spanId: str | None = None
    kind: int | str | None = None
    startTimeUnixNano: int | None = None
    endTimeUnixNano: int | None = None
    attributes: list[KeyValue] | None = None


class ScopeSpans(msgspec.Struct, gc=False):
    spans: list[Span] | None = None


class ResourceSpans(msgspec.Struct, gc=False):
    resource: Resource | None = None
    scopeSpans: list[ScopeSpans] | None = None


class TracesRequest(msgspec.Struct, gc=False):
    resourceSpans: list[ResourceSpans] | None = None


class LogRecord(msgspec.Struct, gc=False):
    timeUnixNano: int | None = None
    observedTimeUnixNano: int | None = None
    attributes: list[KeyValue] | None = None


class ScopeLogs(msgspec.Struct, gc=False):
    logRecords: list[LogRecord] | None = None


class ResourceLogs(msgspec.Struct, gc=False):
    resource: Resource | None = None
    scopeLogs: list[ScopeLogs] | None = None


class LogsRequest(msgspec.Struct, gc=False):
    resourceLogs: list[ResourceLogs] | None = None


# Not strict: integers written as strings ("409", as OTLP/JSON does for 64-bit ones) and the
# doubles "NaN" and "Infinity" decode as numbers.
_traces_decoder = msgspec.json.Decoder(TracesRequest, strict=False)
_logs_decoder = msgspec.json.Decoder(LogsRequest, strict=False)


def _decode(decoder: msgspec.json.Decoder, body: bytes | str):
    try:
        return decoder.decode(body)
    except msgspec.ValidationError as exc:
        raise RecordError(f"body: not an OTLP/JSON request: {str(exc)[:200]}") from None
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise RecordError(f"body: not valid JSON: {str(exc)[:200]}") from None


def _value(any_value: AnyValue | None, nested: bool = False):
    """An AnyValue's Python value (None for bytes, kvlist and unset values, and for arrays
    inside arrays)."""
    if any_value is None:
        return None
    for value in (
        any_value.stringValue,
        any_value.intValue,
        any_value.doubleValue,
        any_value.boolValue,
    ):
        if value is not None:
            return value
    if any_value.arrayValue is not None and not nested:
        return [_value(v, nested=True) for v in any_value.arrayValue.values or ()]
    return None


def _header_value(any_value: AnyValue | None) -> str | None:
    # Semconv header attributes are string arrays; a lone string is accepted too.
    values = any_value.arrayValue.values if any_value and any_value.arrayValue else None
    if values and len(values) == 1 and values[0].stringValue is not None:
        return values[0].stringValue
    value = _value(any_value)
    if isinstance(value, list):
        strings = [v if isinstance(v, str) else "" for v in value]
        if len(strings) == 1:
            return strings[0]
        return ", ".join(v for v in strings if v) if strings else None
    return value if isinstance(value, str) else None


def _attributes(key_values: list[KeyValue] | None) -> tuple[dict, dict, dict]:
    """(known attributes, request headers, response headers), as otlp's `_attributes`."""
    attrs: dict = {}
    request: dict = {}
    response: dict = {}
    for kv in key_values or ():
        key = kv.key or ""
        plan = ATTRIBUTE_PLAN.get(key)
        if plan is not None:
            where, name = plan
            if where is STRING:
                value = kv.value
                text = value.stringValue if value is not None else None
                attrs[key] = text if text is not None else _value(value)
            elif where is INT:
                value = kv.value
                number = value.intValue if value is not None else None
                attrs[key] = number if number is not None else _value(value)
            elif where is REQUEST:
                request[name] = _header_value(kv.value)
            elif where is RESPONSE:
                response[name] = _header_value(kv.value)
        elif key[:7] == "http.re" and (target := other_header(key, request, response)):
            into, name = target
            into[name] = _header_value(kv.value)
    return attrs, request, response


def _service(resource: Resource | None) -> str | None:
    for kv in (resource.attributes if resource else None) or ():
        if kv.key == "service.name":
            return (kv.value.stringValue if kv.value else None) or None
    return None


def _span_ref(span: Span) -> str:
    span_id = span.spanId or ""
    if not _HEX_ID.fullmatch(span_id):
        raise RecordError(f"body: spanId: not a hex id: {span_id[:40]!r}")
    return f"span {span_id.lower()}"


def map_traces(body: bytes | str) -> Mapped:
    """Native-shaped dicts for the SERVER spans of an OTLP/JSON traces body; raises RecordError
    for a body that is not one (the whole body is refused: a 400)."""
    request = _decode(_traces_decoder, body)
    check_count(
        sum(len(s.spans or ()) for r in request.resourceSpans or () for s in r.scopeSpans or ())
    )
    mapped = Mapped()
    for resource_spans in request.resourceSpans or ():
        service = _service(resource_spans.resource)
        for scope_spans in resource_spans.scopeSpans or ():
            for span in scope_spans.spans or ():
                if span.kind != SPAN_KIND_SERVER and span.kind != _SPAN_KIND_SERVER_NAME:
                    continue
                add_span(
                    mapped,
                    _attributes(span.attributes),
                    service,
                    _span_ref(span),
                    span.startTimeUnixNano or 0,
                    span.endTimeUnixNano or 0,
                )
    return mapped


def map_logs(body: bytes | str) -> Mapped:
    """Native-shaped dicts for the log records with HTTP attributes of an OTLP/JSON logs body;
    raises RecordError for a body that is not one (the whole body is refused: a 400)."""
    request = _decode(_logs_decoder, body)
    check_count(
        sum(len(s.logRecords or ()) for r in request.resourceLogs or () for s in r.scopeLogs or ())
    )
    mapped = Mapped()
    for resource_logs in request.resourceLogs or ():
        service = _service(resource_logs.resource)
        for scope_logs in resource_logs.scopeLogs or ():
            for index, log in enumerate(scope_logs.logRecords or ()):
                add_log(
                    mapped,
                    _attributes(log.attributes),
                    service,
                    index,
                    log.timeUnixNano or log.observedTimeUnixNano or 0,
                )
    return mapped
