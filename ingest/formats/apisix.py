"""APISIX's http-logger plugin: the default log entry as JSON (array, object or NDJSON)."""

from urllib.parse import urlsplit

from ingest.formats.fields import last_status, obj, text

NAME = "apisix"


def detect(record: dict) -> bool:
    return "start_time" in record and "request" in record and "response" in record


def parse(record: dict) -> dict:
    request = obj(record, "request")
    response = obj(record, "response")
    request_headers = obj(request, "headers", "request.headers")
    response_headers = obj(response, "headers", "response.headers")
    host = text(request_headers.get("host"))
    if host is None and isinstance(request.get("url"), str):
        try:
            host = urlsplit(request["url"]).hostname
        except ValueError:
            host = None
    uri = request.get("uri")
    if uri is None:
        uri = request.get("url")
    request_id = text(request_headers.get("x-request-id")) or text(
        response_headers.get("x-request-id")
    )
    return {
        "ts": record.get("start_time"),
        "method": request.get("method"),
        "path": uri,
        "status": response.get("status"),
        "host": host,
        "service": text(record.get("service_id")),
        "duration_ms": record.get("latency"),
        "request_bytes": request.get("size"),
        "response_bytes": response.get("size"),
        # Not in the default entry; newer versions and custom log formats may add it.
        "upstream_status": last_status(record.get("upstream_status")),
        "client": text(obj(record, "consumer").get("username")),
        "client_ip": record.get("client_ip"),
        "user_agent": text(request_headers.get("user-agent")),
        "request_id": request_id,
        "request_headers": request_headers,
        "response_headers": response_headers,
        "response_body": response.get("body"),
    }
