"""Gateway and shipper formats: one module each, all listed in FORMATS.

A format module has NAME, `detect(obj) -> bool` (does this decoded object look like mine?) and
`parse(obj) -> dict`, which returns a native-shaped dict for ingest/normalize.py or raises
RecordError naming the problem. A format that reads text lines (nginx `combined`) also has
`parse_line(str) -> dict`, and `detect_line(str) -> bool` when its lines are recognised as its
own (Traefik's text lines are nginx's parser's, recognised once, as nginx's). `expand(obj)`
unwraps shipper envelopes and Firehose deliveries first.
"""

from collections.abc import Iterator

import msgspec

from ingest.formats import apipark, apisix, aws, caddy, envoy, kong, native, nginx, traefik
from ingest.record import RecordError

FORMATS = {
    module.NAME: module
    for module in (native, kong, apisix, apipark, nginx, envoy, traefik, caddy, aws)
}
# Detection order: the most specific shapes first, native last. APIPark before nginx (both have
# `msec` and `request_uri`).
DETECTION_ORDER = [kong, apisix, apipark, traefik, envoy, caddy, aws, nginx, native]
# The formats whose text lines detection recognises.
LINE_FORMATS = [m for m in FORMATS.values() if hasattr(m, "detect_line")]
# A record no format recognises but that has this many of native's required keys is taken as a
# native record with a mistake, so that the answer names the missing or bad field.
_NATIVE_KEYS = ("ts", "method", "path", "status")
_NEARLY_NATIVE = 2

# Where shippers put the original line: Vector and Logstash `message`, Fluent Bit `log`,
# Logstash (ECS) `event.original`.
_ENVELOPE_KEYS = ("message", "log")
_MAX_ENVELOPE_TEXT = 1 << 20
_decoder = msgspec.json.Decoder()


class Unreadable:
    """An item expand() could not open (a bad Firehose record); to_native rejects it."""

    __slots__ = ("error",)

    def __init__(self, error: str):
        self.error = error


def unknown_format_error(name: str) -> str:
    return f"unknown format {name[:40]!r}; known formats: {', '.join(sorted(FORMATS))}"


def _open_line(line: str):
    """A shipped line: the JSON object it holds, else the text itself (a line format)."""
    stripped = line.strip()
    if stripped[:1] == "{" and len(stripped) <= _MAX_ENVELOPE_TEXT:
        try:
            return _decoder.decode(stripped)
        except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
            pass
    return stripped


def _envelope_line(obj: dict) -> str | None:
    for key in _ENVELOPE_KEYS:
        value = obj.get(key)
        if isinstance(value, str):
            return value
    event = obj.get("event")
    if isinstance(event, dict) and isinstance(event.get("original"), str):
        return event["original"]
    return None


def expand(obj) -> Iterator[object]:
    """The records in one decoded item: the item itself, the line a shipper wrapped (Vector and
    Logstash `message`, Fluent Bit `log`, `event.original`; shipper metadata such as its
    timestamp is dropped), or the records of a Kinesis Firehose delivery."""
    if isinstance(obj, dict):
        line = _envelope_line(obj)
        if line is not None:
            inner = _open_line(line)
            # A text `message` on a record some format reads is that record's own field.
            if isinstance(inner, dict) or not any(m.detect(obj) for m in DETECTION_ORDER):
                yield inner
                return
        elif aws.is_firehose(obj):
            for item in aws.firehose_items(obj):
                yield item.value if item.error is None else Unreadable(item.error)
            return
    yield obj


def detect(obj):
    """The format module that reads this decoded record (a dict, or a str line)."""
    if isinstance(obj, str):
        for module in LINE_FORMATS:
            if module.detect_line(obj):
                return module
    elif isinstance(obj, dict):
        for module in DETECTION_ORDER:
            if module.detect(obj):
                return module
        if sum(key in obj for key in _NATIVE_KEYS) >= _NEARLY_NATIVE:
            return native
    raise RecordError(
        "record: no known format recognises it; name its format (?format=NAME, importlog "
        "--format NAME)"
    )


def line_format(line: str):
    """The line format that recognises this text line, or None."""
    for module in LINE_FORMATS:
        if module.detect_line(line):
            return module
    return None


def reads_line(line: str, fmt: str | None) -> bool:
    """Whether a line format takes this text line up: the format named, else one that
    recognises the line. A line that starts like JSON is JSON gone wrong, whatever the format."""
    if line[:1] in ("{", "["):
        return False
    if fmt:
        return hasattr(FORMATS.get(fmt), "parse_line")
    return any(module.detect_line(line) for module in LINE_FORMATS)


def to_native(obj, fmt: str | None) -> dict:
    """A native-shaped dict from one decoded record (a JSON object, or a text line for line
    formats), in the given format or detected; raises RecordError."""
    if fmt:
        module = FORMATS.get(fmt)
        if module is None:
            raise RecordError(f"format: {unknown_format_error(fmt)}")
    if isinstance(obj, dict):
        if not fmt:
            module = detect(obj)
        try:
            return module.parse(obj)
        except RecordError:
            raise
        except (TypeError, ValueError, AttributeError, KeyError, IndexError, OverflowError):
            # A field of an unexpected type the parser did not name; never a server error.
            raise RecordError(f"record: not a readable {module.NAME} record") from None
    if isinstance(obj, str):
        if not fmt:
            module = detect(obj)
        parse_line = getattr(module, "parse_line", None)
        if parse_line is None:
            raise RecordError(f"record: a text line, but the {module.NAME} format reads JSON")
        return parse_line(obj)
    if isinstance(obj, Unreadable):
        raise RecordError(obj.error)
    raise RecordError(f"record: expected a JSON object, got {type(obj).__name__}")
