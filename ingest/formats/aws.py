"""AWS API Gateway access logs (the JSON access log format in docs/shipping.md), as single
records or inside a Kinesis Firehose HTTP endpoint delivery.

`$context.path` starts with the stage (`/prod/v1/orders`); the stage is stripped so paths match
`resourcePath` (`/v1/orders/{id}`), which is kept as the route.
"""

import base64
import binascii
import zlib

import msgspec

from ingest.decode import Item
from ingest.formats.fields import last_status, text
from ingest.record import RecordError

NAME = "aws"

# A Firehose record holds one log line; a CloudWatch Logs subscription record (gzip) a batch of
# them. Past this size a record is not a log line.
MAX_RECORD_BYTES = 1 << 20
_decoder = msgspec.json.Decoder()


def detect(record: dict) -> bool:
    return "httpMethod" in record and "requestId" in record


def _strip_stage(path, stage):
    if not isinstance(path, str) or not isinstance(stage, str) or not stage or stage == "-":
        return path
    prefix = "/" + stage
    if path == prefix:
        return "/"
    if path.startswith(prefix) and path[len(prefix)] == "/":
        return path[len(prefix) :]
    return path


def _client(record: dict) -> str | None:
    # The authorizer's principal (a user or JWT subject), else the API key id; never a token.
    for key in ("principalId", "sub", "apiKeyId"):
        value = text(record.get(key))
        if value:
            return value
    return None


def parse(record: dict) -> dict:
    route = text(record.get("resourcePath"))
    if route is None and isinstance(record.get("routeKey"), str):
        # HTTP APIs: "GET /v1/orders/{id}" (or "$default").
        _, _, route = record["routeKey"].partition(" ")
        route = route or None
    upstream = record.get("integrationStatus")
    if upstream is None:
        upstream = record.get("integration.status")
    return {
        "ts": record.get("requestTimeEpoch"),
        "method": record.get("httpMethod"),
        "path": _strip_stage(record.get("path"), record.get("stage")),
        "status": record.get("status"),
        "host": record.get("domainName"),
        "route": route,
        "service": text(record.get("apiId")),
        "duration_ms": record.get("responseLatency"),
        "response_bytes": record.get("responseLength"),
        "upstream_status": last_status(upstream, "integrationStatus"),
        "client": _client(record),
        "client_ip": record.get("ip"),
        "user_agent": record.get("userAgent"),
        "request_id": record.get("requestId"),
        "request_headers": {},
        "response_headers": {},
    }


def is_firehose(envelope) -> bool:
    """True for a Firehose HTTP endpoint delivery: {"requestId", "timestamp", "records": [...]}."""
    return (
        isinstance(envelope, dict)
        and isinstance(envelope.get("records"), list)
        and "requestId" in envelope
    )


def _lines(data: bytes) -> list[Item]:
    items = []
    for line in data.split(b"\n"):
        line = line.strip()
        if not line:
            continue
        try:
            items.append(Item(value=_decoder.decode(line)))
        except (msgspec.DecodeError, UnicodeDecodeError) as exc:
            text_line = line.decode("utf-8", "replace")
            items.append(Item(value=text_line, error=f"record is not valid JSON: {exc}"))
    return items


def _cloudwatch_events(data: bytes, index: int) -> list[Item]:
    # A CloudWatch Logs subscription delivers gzip'd {"messageType", "logEvents": [{"message"}]}.
    try:
        inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        raw = inflater.decompress(data, MAX_RECORD_BYTES * 8)
        payload = _decoder.decode(raw)
    except (zlib.error, msgspec.DecodeError, UnicodeDecodeError):
        return [Item(error=f"records[{index}].data: gzip data that is not a CloudWatch Logs batch")]
    if not isinstance(payload, dict) or payload.get("messageType") != "DATA_MESSAGE":
        return []  # CONTROL_MESSAGE: a subscription health check, no log events
    items: list[Item] = []
    for event in payload.get("logEvents") or ():
        message = event.get("message") if isinstance(event, dict) else None
        if isinstance(message, str):
            items.extend(_lines(message.encode("utf-8", "replace")))
    return items


def firehose_items(envelope: dict) -> list[Item]:
    """The log records of a Firehose delivery, one Item per line (a record's base64 `data` may
    hold one line, several lines, or a gzip'd CloudWatch Logs batch). Raises RecordError when the
    envelope itself is malformed."""
    if not is_firehose(envelope):
        raise RecordError("records: not a Firehose delivery ({requestId, timestamp, records})")
    items: list[Item] = []
    for index, record in enumerate(envelope["records"]):
        data = record.get("data") if isinstance(record, dict) else None
        if not isinstance(data, str):
            items.append(Item(error=f"records[{index}].data: missing"))
            continue
        if len(data) > MAX_RECORD_BYTES * 4 // 3 + 4:
            items.append(Item(error=f"records[{index}].data: over {MAX_RECORD_BYTES} bytes"))
            continue
        try:
            raw = base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError):
            items.append(Item(error=f"records[{index}].data: not base64"))
            continue
        if raw[:2] == b"\x1f\x8b":
            items.extend(_cloudwatch_events(raw, index))
        else:
            items.extend(_lines(raw))
    return items
