"""Caddy's JSON access log (`log { format json }`): `ts` is when the entry is written (the END
of the request) and `duration` the request's duration, seconds by default."""

from ingest.formats.fields import epoch_ms, go_duration_ms, iso_to_epoch_ms, number, obj, text
from ingest.record import RecordError

NAME = "caddy"

# A numeric duration at least this large cannot be seconds (2.7 hours); it is nanoseconds
# (`duration_format nanos`).
_NANOS_FROM = 10_000


def detect(record: dict) -> bool:
    return "resp_headers" in record or (
        "request" in record and "duration" in record and "ts" in record and "size" in record
    )


def _duration_ms(value) -> float | None:
    if isinstance(value, str) and value and not value[-1].isdigit():
        return go_duration_ms(value, "duration")
    seconds = number(value, "duration")
    if seconds is None:
        return None
    if seconds < 0:
        raise RecordError(f"duration: {seconds!r} is negative")
    return seconds / 1e6 if seconds >= _NANOS_FROM else seconds * 1000


def _end_ms(value) -> float:
    if isinstance(value, str):
        stripped = value.strip()
        if stripped and not stripped.replace(".", "", 1).isdigit():
            return iso_to_epoch_ms(stripped, "ts")
    end = number(value, "ts")
    if end is None:
        raise RecordError("ts: missing")
    if end <= 0:
        raise RecordError(f"ts: {end!r} is out of range")
    # Seconds (default), unix_milli_float or unix_nano, told apart by size.
    return end * 1000 if end < 1e11 else float(epoch_ms(end))


def parse(record: dict) -> dict:
    if record.get("request") is None and isinstance(record.get("msg"), str):
        # Caddy's own log (startup, TLS, errors) shares stderr with access entries by default.
        raise RecordError(
            f"request: missing; not an access log entry (Caddy's own log: {record['msg'][:80]!r})"
        )
    request = obj(record, "request")
    request_headers = obj(request, "headers", "request.headers")
    duration = _duration_ms(record.get("duration"))
    ts = round(_end_ms(record.get("ts")) - (duration or 0))
    client_ip = text(request.get("client_ip")) or text(request.get("remote_ip"))
    return {
        "ts": ts,
        "method": request.get("method"),
        "path": request.get("uri"),
        "status": record.get("status"),
        "host": request.get("host"),
        "duration_ms": duration,
        "request_bytes": record.get("bytes_read"),
        "response_bytes": record.get("size"),
        "client": text(record.get("user_id")),
        "client_ip": client_ip,
        "user_agent": text(request_headers.get("User-Agent")),
        "request_headers": request_headers,
        "response_headers": obj(record, "resp_headers"),
    }
