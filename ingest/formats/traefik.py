"""Traefik's JSON access log (logrus): `StartUTC`, `Duration` in nanoseconds, headers as
`request_<Name>` / `downstream_<Name>` with Go's canonical names (`downstream_Etag`).

Its default text lines (the Common Log Format: combined fields, then the router, the server and
the duration in ms) are read by the combined line parser (ingest/formats/nginx.py)."""

from ingest.formats import nginx
from ingest.formats.fields import last_status, scaled, text
from ingest.record import RecordError

NAME = "traefik"
parse_line = nginx.parse_line


# Record key -> (is a request header, header name): `downstream_Etag` -> (False, "Etag").
# `origin_<Name>` (the upstream's answer before middlewares) is not what the client got.
_HEADER_KEYS: dict[str, tuple[bool, str]] = {}
_NOT_A_HEADER = (False, "")
_MAX_CACHED_KEYS = 4096


def _header_key(key: str) -> tuple[bool, str]:
    if key[:8] == "request_":
        header = (True, key[8:])
    elif key[:11] == "downstream_":
        header = (False, key[11:])
    else:
        header = _NOT_A_HEADER
    if len(_HEADER_KEYS) < _MAX_CACHED_KEYS:
        _HEADER_KEYS[key] = header
    return header


def detect(record: dict) -> bool:
    return "DownstreamStatus" in record and ("StartUTC" in record or "RequestMethod" in record)


def parse(record: dict) -> dict:
    if record.get("StartUTC") is None:
        # StartLocal and `time` are local wall-clock times; only StartUTC is trusted.
        raise RecordError("StartUTC: missing; keep the StartUTC field in accessLog.fields")
    request_headers: dict = {}
    response_headers: dict = {}
    for key, value in record.items():
        header = _HEADER_KEYS.get(key)
        if header is None:
            header = _header_key(key)
        if header is not _NOT_A_HEADER:
            (request_headers if header[0] else response_headers)[header[1]] = value
    client = (
        text(request_headers.get("X-Client-Id"))
        or text(record.get("ClientUsername"))
        or text(record.get("ClientHost"))
    )
    return {
        "ts": record.get("StartUTC"),
        "method": record.get("RequestMethod"),
        "path": record.get("RequestPath"),
        "status": record.get("DownstreamStatus"),
        "host": record.get("RequestHost"),
        "service": text(record.get("ServiceName")),
        "duration_ms": scaled(record.get("Duration"), "Duration", 1e-6),
        "request_bytes": record.get("RequestContentSize"),
        "response_bytes": record.get("DownstreamContentSize"),
        # 0 when Traefik answered without calling a service.
        "upstream_status": last_status(record.get("OriginStatus"), "OriginStatus"),
        "client": client,
        "client_ip": text(record.get("ClientHost")),
        "user_agent": request_headers.get("User-Agent"),
        "request_id": text(request_headers.get("X-Request-Id")),
        "request_headers": request_headers,
        "response_headers": response_headers,
    }
