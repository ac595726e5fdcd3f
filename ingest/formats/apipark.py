"""APIPark (apinto gateway) `http_output` with `type: json`: one object per request."""

from ingest.formats.fields import last_status, text
from ingest.normalize import SECRET_HEADERS, FormEncodedHeaders, unquote_form
from ingest.record import RecordError

NAME = "apipark"

# A header string longer than this is cut: only a handful of headers matter and the rest is
# attacker-sized text.
MAX_HEADER_STRING = 65536


def detect(record: dict) -> bool:
    return "msec" in record and ("request_header" in record or "src_ip" in record)


# Secret headers are dropped by normalize anyway; not decoding them saves the work and keeps
# credentials (logged in clear by APIPark) out of any intermediate value.
_SECRETS = frozenset(
    {h for h in SECRET_HEADERS}
    | {"-".join(p.capitalize() for p in h.split("-")) for h in SECRET_HEADERS}
)


def decode_headers(value, name: str = "request_header") -> dict[str, str]:
    """'Key=value&Other=x%2Fy' (Go's url.Values encoding) -> {'Key': 'value', 'Other': 'x%2Fy'},
    values left encoded for normalize to decode the few it keeps. A repeated header keeps its
    values joined with ', '."""
    if value is None or value == "":
        return {}
    if isinstance(value, dict):
        return value
    if not isinstance(value, str):
        raise RecordError(f"{name}: expected a URL-encoded string, got {type(value).__name__}")
    headers = FormEncodedHeaders()
    for part in value[:MAX_HEADER_STRING].split("&"):
        key, _, raw = part.partition("=")
        if "%" in key or "+" in key:
            key = unquote_form(key)
        if not key or key in _SECRETS:
            continue
        headers[key] = f"{headers[key]}, {raw}" if key in headers else raw
    return headers


def parse(record: dict) -> dict:
    request_headers = decode_headers(record.get("request_header"))
    response_headers = record.get("response_headers")
    if response_headers is None:
        response_headers = decode_headers(record.get("response_header"), "response_header")
    user_agent = request_headers.get("User-Agent") or request_headers.get("user-agent")
    if user_agent and type(request_headers) is FormEncodedHeaders:
        user_agent = unquote_form(user_agent)
    return {
        "ts": record.get("msec"),
        "method": record.get("request_method"),
        # `$url`: the full URL; normalize keeps its path and query.
        "path": record.get("request_uri"),
        "status": record.get("status"),
        "host": record.get("request_host"),
        "service": text(record.get("service")),
        "duration_ms": record.get("request_time"),
        "upstream_status": last_status(record.get("proxy_status"), "proxy_status"),
        "client": text(record.get("application")),
        "client_ip": text(record.get("src_ip")) or text(record.get("remote_addr")),
        "user_agent": user_agent,
        "request_id": record.get("request_id"),
        "request_headers": request_headers,
        "response_headers": response_headers,
        "response_body": record.get("response_body"),
    }
