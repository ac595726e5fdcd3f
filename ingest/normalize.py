"""Turn one native-shaped dict into a NativeRecord: validate, bound, scrub, derive.

Everything logged is attacker text. This is the one door before storage: the header allow-list,
secret and credential redaction (ingest/redaction.py), size bounds and control-character
scrubbing all happen here.

Whatever the database would refuse is refused or bounded here, per record, so that no record
can fail its batch (DESIGN.md principle 8). Column by column (ingest/models.py, monitor/models.py):

- `ts`: inside the time bounds (ingest/time_bounds.py), which also bound the partitions made.
- `method` (varchar 16, in the Endpoint key): `METHOD`, at most 16 characters.
- `status`, `upstream_status` (smallint): 100-599. Byte counts (bigint): 0 to 2**62.
  `duration_ms` (float8): finite, 0 to 1e10.
- `route` (Endpoint.route, varchar 512, in the unique (project, method, route) index): cut to
  `MAX_ROUTE` characters, so at most 2 KiB of UTF-8.
- `resource` (the (project, resource, ts) indexes, the resource and race-pair rollup keys): at
  most `MAX_RESOURCE_BYTES` of UTF-8; a longer one keeps its start and a hash of the whole, so
  that two long resources stay two.
- `client` (the (project, client, ts) index, the client, outcome and race-pair rollup keys, the
  race pair holding two clients and a resource): at most `MAX_CLIENT_BYTES` of UTF-8.
- `request_id`: `MAX_REQUEST_ID` characters; a longer id is cut for display but its dedup key
  is made from all of it (`request_id_key`; only cut ids have an index by request id).
- `dedup_key` (varchar 32): a 128-bit hash in hex.
- `path` (`MAX_PATH`), `query`, `host`, `service`, `user_agent`, `client_ip`, header values and
  the body excerpt: text and jsonb without an index, bounded in size; NUL and other control
  characters and lone surrogates, which Postgres text and jsonb refuse, are replaced.

Postgres refuses a btree entry over about 2,700 bytes; the widest key above (race pairs: a
resource and two clients) stays under 2,100.
"""

import hashlib
import math
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import unquote, unquote_to_bytes

from ingest import time_bounds
from ingest.record import AS_WRITTEN, DURATION_OUTSIDE_KEY, NativeRecord, RecordError
from ingest.redaction import (
    URL_HEADERS,
    is_credential_name,
    redact_params,
    redact_path,
    redact_url,
)
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

MAX_PATH = 8192
MAX_QUERY = 4096
MAX_TEXT = 512  # host, user agent, service, a gateway's route
MAX_ROUTE = 512  # Endpoint.route
MAX_CLIENT = 256
MAX_CLIENT_BYTES = 512
MAX_RESOURCE_BYTES = 1024
MAX_REQUEST_ID = 128
MAX_HEADER_VALUE = 1024
MAX_BODY_BYTES = 2048
MAX_HEADERS = 200
MAX_COUNT = 2**62  # byte counts (bigint)
MAX_NUMBER = 1e10  # duration_ms
COMMON_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
METHOD = re.compile(r"^[A-Z][A-Z0-9_-]{0,15}$")
# Seconds vs milliseconds for epoch numbers (DESIGN: < 1e11 is seconds).
EPOCH_MS_THRESHOLD = 1e11
# A full URL logged as the path: any scheme, in any case.
_ABSOLUTE_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")
_AUTHORITY_END = re.compile(r"[/?]")

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
        # A project's own header is not kept when its name names a credential (x-session-id).
        extra = {h for h in self.extra_headers if not is_credential_name(h)}
        allowed = (ALLOWED_HEADERS | extra) - SECRET_HEADERS - self.secret_headers
        object.__setattr__(self, "allowed", allowed)

    @classmethod
    def for_project(cls, project) -> "ProjectRules":
        return cls(
            # The headers that carry the version a write expects are kept too (the cause
            # rules read them: monitor/rules/versions.py).
            extra_headers=frozenset(
                h.lower()
                for h in [*(project.extra_headers or ()), *(project.version_headers or ())]
                if isinstance(h, str)
            ),
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


def cut_bytes(value: str, limit: int) -> str:
    """At most `limit` bytes of UTF-8: a longer string is cut on a character and ends in '…'."""
    if len(value) * 4 <= limit or (value.isascii() and len(value) <= limit):
        return value
    data = value.encode("utf-8")
    if len(data) <= limit:
        return value
    return data[: limit - 3].decode("utf-8", "ignore") + "…"


def bounded_resource(resource: str) -> str:
    """The resource within MAX_RESOURCE_BYTES: a longer one keeps its start and a hash of the
    whole, so that two long resources with the same start stay two."""
    if len(resource) * 4 <= MAX_RESOURCE_BYTES or (
        resource.isascii() and len(resource) <= MAX_RESOURCE_BYTES
    ):
        return resource
    data = resource.encode("utf-8")
    if len(data) <= MAX_RESOURCE_BYTES:
        return resource
    digest = hashlib.blake2b(data, digest_size=8).hexdigest()
    return cut_bytes(resource, MAX_RESOURCE_BYTES - len(digest) - 1) + "#" + digest


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
    if type(value) is int and 0 <= value <= MAX_COUNT:  # the common case, checked first
        return value
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
    if value < 0 or value > MAX_COUNT:
        raise RecordError(f"{name}: {value} is out of range")
    return value


def _number(rec: dict, name: str) -> float | None:
    value = rec.get(name)
    if type(value) is float and 0 <= value <= MAX_NUMBER:  # the common case, checked first
        return value
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
    if not math.isfinite(value) or value < 0 or value > MAX_NUMBER:
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
        if ":" in text:  # a time of day: never a number, so no float() and its exception
            return _parse_rfc3339(text)
        try:
            value = float(text)
        except ValueError:
            return _parse_rfc3339(text)
    if not isinstance(value, int | float) or not math.isfinite(value):
        raise RecordError(f"ts: expected an RFC 3339 string or an epoch number, got {value!r}")
    try:
        # Inside the try: a huge negative number of seconds times 1000 is -inf.
        ms = round(value * 1000) if value < EPOCH_MS_THRESHOLD else round(value)
        return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=ms)
    except OverflowError:
        raise RecordError(f"ts: {value!r} is out of range") from None


def _parse_rfc3339(text: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        parsed = None
    if parsed is None:
        raise RecordError(f"ts: not an RFC 3339 time: {text[:40]!r}")
    if parsed.tzinfo is None:
        raise RecordError(f"ts: {text[:40]!r} has no UTC offset")
    try:
        if parsed.tzinfo is not UTC:
            parsed = parsed.astimezone(UTC)
        if parsed.microsecond % 1000 == 0:  # whole milliseconds already (most loggers)
            return parsed
        ms = round(parsed.microsecond / 1000)
        return parsed.replace(microsecond=0) + timedelta(milliseconds=ms)
    except OverflowError:
        raise RecordError(f"ts: {text[:40]!r} is out of range") from None


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


def headers(value, name: str, allowed: frozenset[str]) -> dict[str, str]:
    """Keep allow-listed headers: lower-cased names, string values (lists joined ', ')."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise RecordError(f"{name}: expected an object, got {type(value).__name__}")
    form_encoded = type(value) is FormEncodedHeaders
    kept: dict[str, str] = {}
    for key, raw in value.items():
        # Most shippers write the names in lower case already.
        low = key if key in allowed else key.strip().lower()
        if low not in allowed:
            continue
        if type(raw) is str:  # the common case, first
            if form_encoded:
                raw = unquote_form(raw)
        elif isinstance(raw, list):
            raw = ", ".join(str(v) for v in raw if v is not None and not isinstance(v, dict | list))
        elif isinstance(raw, bool) or not isinstance(raw, str | int | float):
            continue
        else:
            raw = str(raw)
        text = raw.strip()
        if text in ("", "-"):
            continue
        text = clean_text(text, MAX_HEADER_VALUE)
        kept[low] = redact_url(text) if low in URL_HEADERS else text
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
    """Split '?query' off the path; a full URL (any scheme, any case) keeps only its path. A
    fragment is dropped: servers never receive one, and clients keep tokens there."""
    if "#" in raw_path:
        raw_path = raw_path.partition("#")[0]
    authority = None
    if raw_path[:1] != "/":
        url = _ABSOLUTE_URL.match(raw_path)
        if url is not None:
            authority = url.end()
    elif raw_path[:2] == "//" and "@" in _AUTHORITY_END.split(raw_path[2:], 1)[0]:
        authority = 2  # a network-path reference, //user:pw@host/path
    if authority is not None:
        # Keep what follows the authority (user:pw@host:port) only.
        rest = raw_path[authority:]
        end = _AUTHORITY_END.search(rest)
        raw_path = "/" if end is None else rest[end.start() :]
        if raw_path[:1] == "?":
            raw_path = "/" + raw_path
    path, sep, tail = raw_path.partition("?")
    if sep and not query:
        query = tail
    if query and "#" in query:
        query = query.partition("#")[0]
    return path, (query or None)


def request_id_key(request_id: str) -> str:
    """The dedup key of a record with this request id. A stored request id shorter than
    `MAX_REQUEST_ID` is the whole id, so its rows are found by their dedup key (the request id
    filter reads them through the dedup index: the raw table has no index by request id)."""
    return hashlib.blake2b(
        ("rid\0" + request_id).encode("utf-8", "replace"), digest_size=16
    ).hexdigest()


def dedup_key(rec: NativeRecord, request_id: str | None = None, duration_keyed: bool = True) -> str:
    """The request id when the gateway gives one (`request_id`: the whole id when the stored one
    was cut), else a hash of the record's content (its look-alikes are told apart by
    ingest/lookalikes.py). `duration_keyed=False` leaves the duration out of it (an nginx
    `combined` line's `rt=`, which earlier versions did not read)."""
    if rec.request_id:
        return request_id_key(request_id or rec.request_id)
    material = "\0".join(
        map(
            str,
            (
                rec.ts.isoformat(),
                rec.method,
                rec.path,
                rec.query,
                rec.status,
                rec.host,
                rec.client,
                rec.client_ip,
                rec.duration_ms if duration_keyed else None,
                rec.request_bytes,
                rec.response_bytes,
                rec.user_agent,
                rec.upstream_status,
            ),
        )
    )
    return hashlib.blake2b(material.encode("utf-8", "replace"), digest_size=16).hexdigest()


def normalize(
    rec, rules: ProjectRules = DEFAULT_RULES, bounds: time_bounds.TimeBounds | None = None
) -> NativeRecord:
    """Validate one native-shaped dict and return the record to store, or raise RecordError.
    `bounds`: the accepted time range (computed now when not given; callers pass one per
    batch)."""
    if not isinstance(rec, dict):
        raise RecordError(f"record: expected a JSON object, got {type(rec).__name__}")

    method = rec.get("method")
    if type(method) is str and method in COMMON_METHODS:
        pass  # spelled as stored already
    elif not isinstance(method, str) or not method.strip():
        raise RecordError(
            "method: missing"
            if method is None
            else "method: empty"
            if isinstance(method, str)
            else "method: expected a string"
        )
    else:
        method = method.strip().upper()
        if not METHOD.match(method):
            raise RecordError(f"method: not an HTTP method: {clean_text(method, 40)!r}")

    raw_path = rec.get("path")
    if not isinstance(raw_path, str) or not raw_path:
        raise RecordError(
            "path: missing"
            if raw_path is None
            else "path: empty"
            if raw_path == ""
            else "path: expected a string"
        )
    if len(raw_path) > MAX_PATH:
        raise RecordError(f"path: {len(raw_path)} characters, over the limit of {MAX_PATH}")
    query = rec.get("query")
    if query is not None and not isinstance(query, str):
        raise RecordError(f"query: expected a string, got {type(query).__name__}")
    path, query = split_path(raw_path, query)
    path = clean_text(path, MAX_PATH)
    if ";" in path or "@" in path:
        path = redact_path(path)
    if query is not None:
        query = redact_params(clean_text(query, MAX_QUERY))

    status = _int(rec, "status", required=True)
    if not 100 <= status <= 599:
        raise RecordError(f"status: {status} is not an HTTP status (100-599)")
    upstream = _int(rec, "upstream_status")
    if upstream is not None and not 100 <= upstream <= 599:
        upstream = None

    route = _optional_text(rec, "route", MAX_ROUTE)
    if route is not None:
        route_source = GATEWAY
    else:
        route, route_source = rules.routes.route(path)
    if len(route) > MAX_ROUTE:
        route = route[: MAX_ROUTE - 1] + "…"
    if bounds is None:
        bounds = time_bounds.bounds()
    host = _optional_text(rec, "host")
    if host is not None and "@" in host:
        host = host.rpartition("@")[2] or None
    request_id = _optional_text(rec, "request_id", MAX_REQUEST_ID)

    # Read in this order, so that a record with several faults is refused for the same one.
    ts = bounds.check(parse_ts(rec.get("ts")))
    service = _optional_text(rec, "service")
    duration_ms = _number(rec, "duration_ms")
    request_bytes = _int(rec, "request_bytes")
    response_bytes = _int(rec, "response_bytes")
    client_ip = _optional_text(rec, "client_ip", 64)
    user_agent = _optional_text(rec, "user_agent")
    request_headers = headers(rec.get("request_headers"), "request_headers", rules.allowed)
    response_headers = headers(rec.get("response_headers"), "response_headers", rules.allowed)
    response_body = body_excerpt(rec.get("response_body"))
    resource = path.rstrip("/") or "/"
    if len(resource) * 4 > MAX_RESOURCE_BYTES:
        resource = bounded_resource(resource)
    client = _optional_text(rec, "client", MAX_CLIENT)
    if client and len(client) * 4 > MAX_CLIENT_BYTES:
        client = cut_bytes(client, MAX_CLIENT_BYTES)
    # Positional, in the order of NativeRecord's fields: several times cheaper than keywords.
    out = NativeRecord(
        ts,
        method,
        path,
        status,
        query,
        host,
        route,
        route_source,
        service,
        duration_ms,
        request_bytes,
        response_bytes,
        upstream,
        client or client_ip,
        client_ip,
        user_agent,
        request_id,
        request_headers,
        response_headers,
        response_body,
        resource,
    )
    whole_id = None
    if request_id is not None and len(request_id) == MAX_REQUEST_ID:
        # Maybe cut for display: the dedup key still tells long ids with the same start apart.
        raw_id = rec["request_id"]
        whole_id = raw_id.strip() if isinstance(raw_id, str) else None
    out.dedup_key = dedup_key(out, whole_id, not rec.get(DURATION_OUTSIDE_KEY))
    written = rec.get(AS_WRITTEN)
    if written:
        try:
            out.dedup_key = normalize({**rec, **written, AS_WRITTEN: None}, rules, bounds).dedup_key
        except RecordError:
            pass  # refused as written (too long with its escapes): no earlier row to match
    return out
