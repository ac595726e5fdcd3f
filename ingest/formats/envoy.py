"""Envoy's file access log with a `json_format` (docs/shipping.md), typed or untyped."""

from ingest.formats.fields import obj, strip_port, text

NAME = "envoy"


def detect(record: dict) -> bool:
    return "response_code" in record and "start_time" in record


def parse(record: dict) -> dict:
    request_headers = obj(record, "request_headers")
    user_agent = record.get("user_agent")
    if user_agent is None:
        user_agent = request_headers.get("user-agent")
    return {
        # %START_TIME%: UTC with milliseconds, the request start.
        "ts": record.get("start_time"),
        "method": record.get("method"),
        "path": record.get("path"),
        "status": record.get("response_code"),
        "host": record.get("authority"),
        "service": text(record.get("upstream_cluster")),
        "duration_ms": record.get("duration"),
        "request_bytes": record.get("bytes_received"),
        "response_bytes": record.get("bytes_sent"),
        "client": text(record.get("client_id")),
        "client_ip": strip_port(text(record.get("downstream_remote_address"))),
        "user_agent": user_agent,
        "request_id": record.get("request_id"),
        "request_headers": request_headers,
        "response_headers": obj(record, "response_headers"),
    }
