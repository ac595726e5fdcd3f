"""OTLP/JSON spans for tests: attributes given as a plain dict become OTLP `KeyValue`s."""

from tests.ingest.samples import moved_text

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
# The samples' times, moved like the samples (tests/ingest/samples.py).
START = moved_text("1741944413589312457")
END = moved_text("1741944413601356328")


def any_value(value) -> dict:
    """An OTLP/JSON AnyValue: lists become arrays, ints decimal strings (as OTLP/JSON writes
    64-bit integers)."""
    if isinstance(value, list):
        return {"arrayValue": {"values": [any_value(v) for v in value]}}
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value}
    return {"stringValue": value}


def key_values(attributes: dict) -> list[dict]:
    return [{"key": k, "value": any_value(v)} for k, v in attributes.items()]


def json_span(
    attributes: dict, span_id: str = "b7ad6b7169203331", kind=2, start=START, **fields
) -> dict:
    """A span as OTLP/JSON writes it (kind 2: SERVER); `fields` add or replace span fields."""
    return {
        "traceId": TRACE_ID,
        "spanId": span_id,
        "name": "span",
        "kind": kind,
        "startTimeUnixNano": start,
        "endTimeUnixNano": END,
        "attributes": key_values(attributes),
        **fields,
    }
