"""Turn one native-shaped dict into a NativeRecord: validate, bound, scrub, derive.

Everything logged is attacker text. This is the one door before storage: the header allow-list,
secret and credential redaction, size bounds and control-character scrubbing all happen here.
"""

import hashlib
import math
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import unquote, unquote_plus, unquote_to_bytes, urlsplit

from ingest.record import NativeRecord, RecordError
from ingest.routes import EMPTY_TABLE, GATEWAY, RouteTable, project_table

ALLOWED_HEADERS = frozenset(
    {
        "if-match",
        "if-none-match",
        "if-unmodified-since",
        "idempotency-key",
        "etag",
        "last-modified",
        "retry-after",
        "location",
        "content-type",
        "x-request-id",
    }
)
SECRET_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "cookie",
        "set-cookie",
        "x-api-key",
        "api-key",
        "apikey",
        "x-auth-token",
        "x-amz-security-token",
        "x-amz-firehose-access-key",
        "x-conflictwatch-token",
    }
)
CREDENTIAL_PARAMS = frozenset(
    {"token", "key", "api_key", "apikey", "secret", "password", "signature", "sig", "code"}
)
CREDENTIAL_SUFFIXES = ("_token", "-token", "_key", "-key", "_secret", "_password", "_signature")
REDACTED = "[redacted]"

MAX_PATH = 8192
MAX_QUERY = 4096
MAX_TEXT = 512  # host, client, user agent, request id, service, route
MAX_HEADER_VALUE = 1024
MAX_BODY_BYTES = 2048
MAX_HEADERS = 200
METHOD = re.compile(r"^[A-Z][A-Z0-9_-]{0,15}$")
# Seconds vs milliseconds for epoch numbers (DESIGN: < 1e11 is seconds).
EPOCH_MS_THRESHOLD = 1e11
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
FUTURE_SLACK = timedelta(days=1)

# C0 controls (but tab) and DEL become U+FFFD: they break terminals, mail headers and Postgres.
_CONTROLS = {c: "\ufffd" for c in [*range(0, 9), *range(10, 32), 127]}
_BODY_CONTROLS = {0: "\ufffd"}


@dataclass(frozen=True)
class ProjectRules:
    """What a project adds to normalization: its own headers, secrets and routes (declared,
    imported, learned: ingest/routes.py)."""

    extra_headers: frozenset[str] = frozenset()
    secret_headers: frozenset[str] = frozenset()
    routes: RouteTable = EMPTY_TABLE
    allowed: frozenset[str] = field(init=False)

    def __post_init__(self) -> None:
        allowed = (ALLOWED_HEADERS | self.extra_headers) - SECRET_HEADERS - self.secret_headers
        object.__setattr__(self, "allowed", allowed)

    @classmethod
    def for_project(cls, project) -> "ProjectRules":
        return cls(
            extra_headers=frozenset(h.lower() for h in project.extra_headers or ()),
            secret_headers=frozenset(h.lower() for h in project.secret_headers or ()),
            routes=project_table(project),
        )


DEFAULT_RULES = ProjectRules()


class FormEncodedHeaders(dict):
    """Headers whose values are still URL-encoded (`a%2Fb`, `+` for a space), as some gateways
    log them: only the values of the headers that are kept get decoded."""


def clean_text(value: str, limit: int = MAX_TEXT) -> str:
    """Bound a string and replace control characters and lone surrogates."""
    if len(value) > limit:
        value = value[: limit - 1] + "…"
    if not (value.isascii() and value.isprintable()):
        value = value.translate(_CONTROLS)
        value = value.encode("utf-8", "replace").decode("utf-8")
    return value


def _optional_text(rec: dict, name: str, limit: int = MAX_TEXT) -> str | None:
    value = rec.get(name)
    if value is None:
        return None
    if type(value) is str and len(value) <= limit and value.isascii() and value.isprintable():
        value = value.strip()
        return value if value and value != "-" else None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise RecordError(f"{name}: expected a string, got {type(value).__name__}")
    value = str(value).strip()
    if value in ("", "-"):
        return None
    return clean_text(value, limit)


def _int(rec: dict, name: str, *, required: bool = False) -> int | None:
    value = rec.get(name)
    if value is None or value == "" or value == "-":
        if required:
            raise RecordError(f"{name}: missing")
        return None
    if isinstance(value, bool):
        raise RecordError(f"{name}: expected an integer, got a boolean")
    if isinstance(value, str):
        try:
            value = float(value.strip()) if "." in value else int(value.strip())
        except ValueError:
            raise RecordError(f"{name}: expected an integer, got {value[:40]!r}") from None
    if isinstance(value, float):
        if not math.isfinite(value) or value != int(value):
            raise RecordError(f"{name}: expected an integer, got {value!r}")
        value = int(value)
    if not isinstance(value, int):
        raise RecordError(f"{name}: expected an integer, got {type(value).__name__}")
    if value < 0 or value > 2**62:
        raise RecordError(f"{name}: {value} is out of range")
    return value


def _number(rec: dict, name: str) -> float | None:
    value = rec.get(name)
    if value is None or value == "" or value == "-":
        return None
    if isinstance(value, bool):
        raise RecordError(f"{name}: expected a number, got a boolean")
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            raise RecordError(f"{name}: expected a number, got {value[:40]!r}") from None
    if not isinstance(value, int | float):
        raise RecordError(f"{name}: expected a number, got {type(value).__name__}")
    value = float(value)
    if not math.isfinite(value) or value < 0 or value > 1e10:
        raise RecordError(f"{name}: {value!r} is out of range")
    return value


def parse_ts(value) -> datetime:
    """RFC 3339 string or epoch number (s below 1e11, else ms) -> aware UTC, rounded to the ms."""
    if value is None or value == "":
        raise RecordError("ts: missing")
    if isinstance(value, bool):
        raise RecordError("ts: expected an RFC 3339 string or an epoch number, got a boolean")
    if isinstance(value, str):
        text = value.strip()
        try:
            value = float(text)
        except ValueError:
            return _check_range(_parse_rfc3339(text))
    if not isinstance(value, int | float) or not math.isfinite(value):
        raise RecordError(f"ts: expected an RFC 3339 string or an epoch number, got {value!r}")
    ms = round(value * 1000) if value < EPOCH_MS_THRESHOLD else round(value)
    try:
        parsed = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=ms)
    except OverflowError:
        raise RecordError(f"ts: {value!r} is out of range") from None
    return _check_range(parsed)


def _parse_rfc3339(text: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        parsed = None
    if parsed is None:
        raise RecordError(f"ts: not an RFC 3339 time: {text[:40]!r}")
    if parsed.tzinfo is None:
        raise RecordError(f"ts: {text[:40]!r} has no UTC offset")
    parsed = parsed.astimezone(UTC)
    ms = round(parsed.microsecond / 1000)
    return parsed.replace(microsecond=0) + timedelta(milliseconds=ms)


def _check_range(ts: datetime) -> datetime:
    if ts < EARLIEST or ts > datetime.now(UTC) + FUTURE_SLACK:
        raise RecordError(f"ts: {ts.isoformat()} is out of range (2000 to tomorrow)")
    return ts


def unquote_form(value: str) -> str:
    """'x%2Fy+z' -> 'x/y z' (application/x-www-form-urlencoded); bad UTF-8 becomes U+FFFD."""
    if "+" in value:
        value = value.replace("+", " ")
    if "%" not in value:
        return value
    if value.isascii():
        # One decode of the whole value instead of one per escaped run.
        return unquote_to_bytes(value).decode("utf-8", "replace")
    return unquote(value)


def is_credential_param(name: str) -> bool:
    name = unquote_plus(name).strip().lower()
    return (
        name in CREDENTIAL_PARAMS
        or name.endswith(CREDENTIAL_SUFFIXES)
        or "password" in name
        or "secret" in name
    )


def redact_query(query: str) -> str:
    """Replace the values of credential-like query parameters with [redacted]."""
    parts = []
    for part in query.split("&"):
        name, sep, _value = part.partition("=")
        parts.append(f"{name}={REDACTED}" if sep and is_credential_param(name) else part)
    return "&".join(parts)


def headers(value, name: str, allowed: frozenset[str]) -> dict[str, str]:
    """Keep allow-listed headers: lower-cased names, string values (lists joined ', ')."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise RecordError(f"{name}: expected an object, got {type(value).__name__}")
    form_encoded = type(value) is FormEncodedHeaders
    kept: dict[str, str] = {}
    for key, raw in value.items():
        low = key.strip().lower()
        if low not in allowed:
            continue
        if form_encoded and type(raw) is str:
            raw = unquote_form(raw)
        elif isinstance(raw, list):
            raw = ", ".join(str(v) for v in raw if v is not None and not isinstance(v, dict | list))
        elif isinstance(raw, bool) or not isinstance(raw, str | int | float):
            continue
        text = str(raw).strip()
        if text in ("", "-"):
            continue
        kept[low] = clean_text(text, MAX_HEADER_VALUE)
    return kept


def body_excerpt(value) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise RecordError(f"response_body: expected a string, got {type(value).__name__}")
    if value == "":
        return None
    data = value.encode("utf-8", "replace")
    if len(data) > MAX_BODY_BYTES:
        value = data[:MAX_BODY_BYTES].decode("utf-8", "ignore")
    elif not value.isascii():
        value = data.decode("utf-8")
    return value.translate(_BODY_CONTROLS)


def split_path(raw_path: str, query: str | None) -> tuple[str, str | None]:
    """Split '?query' off the path; a full URL keeps only its path."""
    if raw_path.startswith(("http://", "https://")):
        parts = urlsplit(raw_path)
        raw_path = parts.path or "/"
        if parts.query and not query:
            query = parts.query
    path, sep, tail = raw_path.partition("?")
    if sep and not query:
        query = tail
    return path, (query or None)


def dedup_key(rec: NativeRecord) -> str:
    """The request id when the gateway gives one, else a hash of the record's content."""
    if rec.request_id:
        material = "rid\0" + rec.request_id
    else:
        material = "\0".join(
            str(v)
            for v in (
                rec.ts.isoformat(),
                rec.method,
                rec.path,
                rec.query,
                rec.status,
                rec.host,
                rec.client,
                rec.client_ip,
                rec.duration_ms,
                rec.request_bytes,
                rec.response_bytes,
                rec.user_agent,
                rec.upstream_status,
            )
        )
    return hashlib.blake2b(material.encode("utf-8", "replace"), digest_size=16).hexdigest()


def normalize(rec, rules: ProjectRules = DEFAULT_RULES) -> NativeRecord:
    """Validate one native-shaped dict and return the record to store, or raise RecordError."""
    if not isinstance(rec, dict):
        raise RecordError(f"record: expected a JSON object, got {type(rec).__name__}")

    method = rec.get("method")
    if not isinstance(method, str) or not method.strip():
        raise RecordError("method: missing" if method is None else "method: expected a string")
    method = method.strip().upper()
    if not METHOD.match(method):
        raise RecordError(f"method: not an HTTP method: {clean_text(method, 40)!r}")

    raw_path = rec.get("path")
    if not isinstance(raw_path, str) or not raw_path:
        raise RecordError("path: missing" if raw_path is None else "path: expected a string")
    if len(raw_path) > MAX_PATH:
        raise RecordError(f"path: {len(raw_path)} characters, over the limit of {MAX_PATH}")
    query = rec.get("query")
    if query is not None and not isinstance(query, str):
        raise RecordError(f"query: expected a string, got {type(query).__name__}")
    path, query = split_path(raw_path, query)
    path = clean_text(path, MAX_PATH)
    if query is not None:
        query = redact_query(clean_text(query, MAX_QUERY))

    status = _int(rec, "status", required=True)
    if not 100 <= status <= 599:
        raise RecordError(f"status: {status} is not an HTTP status (100-599)")
    upstream = _int(rec, "upstream_status")
    if upstream is not None and not 100 <= upstream <= 599:
        upstream = None

    route = _optional_text(rec, "route")
    if route is not None:
        route_source = GATEWAY
    else:
        route, route_source = rules.routes.route(path)

    out = NativeRecord(
        ts=parse_ts(rec.get("ts")),
        method=method,
        path=path,
        query=query,
        status=status,
        host=_optional_text(rec, "host"),
        route=route,
        route_source=route_source,
        service=_optional_text(rec, "service"),
        duration_ms=_number(rec, "duration_ms"),
        request_bytes=_int(rec, "request_bytes"),
        response_bytes=_int(rec, "response_bytes"),
        upstream_status=upstream,
        client_ip=_optional_text(rec, "client_ip", 64),
        user_agent=_optional_text(rec, "user_agent"),
        request_id=_optional_text(rec, "request_id", 128),
        request_headers=headers(rec.get("request_headers"), "request_headers", rules.allowed),
        response_headers=headers(rec.get("response_headers"), "response_headers", rules.allowed),
        response_body=body_excerpt(rec.get("response_body")),
        resource=path.rstrip("/") or "/",
    )
    out.client = _optional_text(rec, "client", 256) or out.client_ip
    out.dedup_key = dedup_key(out)
    return out
