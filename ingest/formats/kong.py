"""Kong's http-log plugin: `kong.log.serialize()` as JSON, one object or an array (batching)."""

from ingest.formats.fields import last_status, obj, text

NAME = "kong"


def detect(record: dict) -> bool:
    return "started_at" in record and "latencies" in record and "request" in record


def _client(record: dict) -> str | None:
    # The consumer's name or ids, else the credential (API key / JWT credential) id; never the
    # credential itself. Without authentication normalize falls back to the client IP.
    consumer = obj(record, "consumer")
    for key in ("username", "custom_id", "id"):
        value = text(consumer.get(key))
        if value:
            return value
    return text(obj(record, "authenticated_entity").get("id"))


def parse(record: dict) -> dict:
    request = obj(record, "request")
    response = obj(record, "response")
    request_headers = obj(request, "headers", "request.headers")
    uri = request.get("uri")
    if uri is None:
        uri = request.get("url")
    return {
        "ts": record.get("started_at"),
        "method": request.get("method"),
        "path": uri,
        "status": response.get("status"),
        "host": text(request_headers.get("host")),
        "service": text(obj(record, "service").get("name")),
        "duration_ms": obj(record, "latencies").get("request"),
        "request_bytes": request.get("size"),
        "response_bytes": response.get("size"),
        "upstream_status": last_status(record.get("upstream_status")),
        "client": _client(record),
        "client_ip": record.get("client_ip"),
        "user_agent": text(request_headers.get("user-agent")),
        "request_id": request.get("id"),
        "request_headers": request_headers,
        "response_headers": obj(response, "headers", "response.headers"),
    }
