"""nginx access logs: the ConflictWatch JSON `log_format` (docs/shipping.md) and plain
`combined` lines.

JSON lines carry `$msec` (seconds.millis when the line is written, i.e. the END of the request)
and `$request_time` (seconds, ms resolution): start = msec - request_time. `combined` lines only
have `$time_local`, the end of the request to the second; that time is used. A `combined` line
extended with `rt=$request_time` (or `request_time=$request_time`) after its fields, as nginx's
`upstream_time` example and many setups log, has that duration, and so has Traefik's default
access log line (the combined fields, then `<count> "<router>" "<server>" <ms>ms`). The
duration stays out of the line's dedup key (`DURATION_OUTSIDE_KEY`), so that a line stored
before durations were read is the same line.

nginx writes `"`, `\\` and every byte outside printable ASCII of a combined line's fields as
`\\xHH` (Apache as `\\"`, `\\\\` and `\\xHH`): the path, user agent and user are read as the
client sent them, with their dedup key as written (`AS_WRITTEN`).
"""

import re
from datetime import UTC, datetime, timedelta

from ingest.formats.fields import last_status, number, text
from ingest.record import AS_WRITTEN, DURATION_OUTSIDE_KEY, RecordError

NAME = "nginx"

# '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent
#  "$http_referer" "$http_user_agent"' (the referer and user agent are optional: `common`).
# $remote_user is the client's own `Authorization: Basic` user name, written unquoted: it may
# hold spaces and brackets, never a `"` (escaped), so the time is the bracket before the first.
_COMBINED = re.compile(
    r'(\S+) \S+ ([^"]*?) \[([^\[\]"]{1,40})\] "((?:[^"\\]|\\.)*)" (\d{3}) (\S+)'
    r'(?: "((?:[^"\\]|\\.)*)" "((?:[^"\\]|\\.)*)")?'
)
_MONTHS = {
    m: i
    for i, m in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1
    )
}
# What follows a combined line's fields: `name=value` or `name="value"` pairs, quoted strings
# (logged headers such as "$http_x_forwarded_for": attacker text, skipped whole) and other words.
_ADDITION = re.compile(r'([A-Za-z_]+)=("(?:[^"\\]|\\.)*"|[^\s"]*)|"(?:[^"\\]|\\.)*"|\S+')
_REQUEST_TIME_NAMES = ("rt", "request_time")
# Traefik's default access log (its Common Log Format) goes on after the combined fields with
# <requests since start> "<router>" "<server URL>" <duration>ms.
_TRAEFIK_TAIL = re.compile(r' \d+ "(?:[^"\\]|\\.)*" "(?:[^"\\]|\\.)*" (\d{1,10})ms')
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# An escape in a combined line's field: nginx's `\\x22`, Apache's `\\"` and `\\\\`.
_ESCAPE = re.compile(rb'\\(?:x([0-9A-Fa-f]{2})|(["\\]))')
MAX_LINE = 65536


# Record key -> (is a request header, header name); `$http_if_match` -> (True, "if-match").
_HEADER_KEYS: dict[str, tuple[bool, str]] = {}
_NOT_A_HEADER = (False, "")
_MAX_CACHED_KEYS = 4096


def _header_key(key: str) -> tuple[bool, str]:
    if key[:5] == "http_":
        header = (True, key[5:].replace("_", "-"))
    elif key[:10] == "sent_http_":
        header = (False, key[10:].replace("_", "-"))
    else:
        header = _NOT_A_HEADER
    if len(_HEADER_KEYS) < _MAX_CACHED_KEYS:
        _HEADER_KEYS[key] = header
    return header


def detect(record: dict) -> bool:
    return "msec" in record and ("request_method" in record or "request" in record)


def detect_line(line: str) -> bool:
    return _COMBINED.match(line[:MAX_LINE]) is not None


def _unescaped_byte(match: re.Match) -> bytes:
    code = match.group(1)
    return bytes((int(code, 16),)) if code is not None else match.group(2)


def _unescape(value: str | None) -> str | None:
    """A combined line's field as the client sent it; bytes that are not UTF-8 become U+FFFD,
    as in a JSON line."""
    if value is None or "\\" not in value:
        return value
    data = _ESCAPE.sub(_unescaped_byte, value.encode("utf-8", "surrogatepass"))
    return data.decode("utf-8", "replace")


def _request_line(request: str, name: str = "request") -> tuple[str, str]:
    parts = request.split(" ")
    if len(parts) not in (2, 3) or not parts[0] or not parts[1]:
        raise RecordError(f"{name}: not 'METHOD URI PROTOCOL': {request[:60]!r}")
    return parts[0], parts[1]


def _duration_ms(request_time) -> float | None:
    """`$request_time` (seconds, ms resolution) in ms."""
    seconds = number(request_time, "request_time")
    if seconds is not None and not 0 <= seconds < 1e7:
        raise RecordError(f"request_time: {seconds!r} is out of range")
    return None if seconds is None else round(seconds * 1000, 3)


def _request_time(addition: str) -> str | None:
    """The value of the first `rt=` or `request_time=` pair of what follows a combined line's
    fields."""
    for match in _ADDITION.finditer(addition):
        if match.group(1) in _REQUEST_TIME_NAMES:
            return match.group(2).strip('"')
    return None


def parse(record: dict) -> dict:
    end = number(record.get("msec"), "msec")
    if end is None:
        raise RecordError('msec: missing; log "msec":"$msec" (request end, epoch seconds)')
    if not 0 < end < 1e11:
        raise RecordError(f"msec: {end!r} is not epoch seconds")
    duration = _duration_ms(record.get("request_time"))
    ts = round(end * 1000 - (duration or 0))

    method = record.get("request_method")
    uri = record.get("request_uri")
    request = record.get("request")
    if isinstance(request, str) and (
        (method is None and uri is None) or (uri in ("", "-") and request not in ("", "-"))
    ):
        # No `$request_uri` logged, or none read: nginx answers a malformed request 400 before
        # it has a URI, and `$request` keeps the line as received.
        method, uri = _request_line(request)
    elif uri == "" and str(record.get("status")) == "400":
        raise RecordError(
            "request_uri: empty (nginx answered 400 before it could read the request; "
            'log "request":"$request" too to keep such requests)'
        )

    request_headers: dict = {}
    response_headers: dict = {}
    for key, value in record.items():
        if value == "" or value == "-":
            continue  # unset variable
        header = _HEADER_KEYS.get(key)
        if header is None:
            header = _header_key(key)
        if header is _NOT_A_HEADER:
            continue
        (request_headers if header[0] else response_headers)[header[1]] = value
    content_type = record.get("content_type")
    if content_type:
        request_headers["content-type"] = content_type

    return {
        "ts": ts,
        "method": method,
        "path": uri,
        "status": record.get("status"),
        # `host` may be a shipper's object ({"name": ...}); only a string is nginx's $host.
        "host": text(record.get("host")),
        "duration_ms": duration,
        "request_bytes": record.get("request_length"),
        "response_bytes": record.get("bytes_sent"),
        "upstream_status": last_status(record.get("upstream_status")),
        "client": text(record.get("client_id")) or text(record.get("remote_user")),
        "client_ip": record.get("remote_addr"),
        "user_agent": record.get("http_user_agent"),
        "request_id": record.get("request_id"),
        "request_headers": request_headers,
        "response_headers": response_headers,
    }


def _time_local(value: str) -> int:
    """'14/Mar/2025:10:26:57 +0100' -> epoch ms."""
    try:
        when = datetime(
            int(value[7:11]),
            _MONTHS[value[3:6]],
            int(value[0:2]),
            int(value[12:14]),
            int(value[15:17]),
            int(value[18:20]),
            tzinfo=UTC,
        )
        offset = timedelta(hours=int(value[22:24]), minutes=int(value[24:26]))
        sign = value[21]
    except (KeyError, ValueError, IndexError):
        raise RecordError(
            f"time_local: not a [dd/Mon/yyyy:HH:MM:SS +zzzz] time: {value!r}"
        ) from None
    if sign == "+":
        when -= offset
    elif sign == "-":
        when += offset
    else:
        raise RecordError(f"time_local: not a [dd/Mon/yyyy:HH:MM:SS +zzzz] time: {value!r}")
    return int((when - _EPOCH).total_seconds()) * 1000


def parse_line(line: str) -> dict:
    if len(line) > MAX_LINE:
        raise RecordError(f"line: {len(line):,} characters, over the limit of {MAX_LINE:,}")
    match = _COMBINED.match(line)
    if match is None:
        raise RecordError("line: not an nginx combined log line (or JSON)")
    remote_addr, remote_user, time_local, request, status, size, _referer, agent = match.groups()
    method, uri = _request_line(request)
    duration = None
    if match.end() < len(line):
        addition = line[match.end() :]
        traefik = _TRAEFIK_TAIL.fullmatch(addition)
        if traefik is not None:
            duration = float(traefik.group(1))
        else:
            duration = _duration_ms(_request_time(addition))
    record = {
        "ts": _time_local(time_local),
        "method": method,
        "path": _unescape(uri),
        "status": status,
        "response_bytes": size,
        "client": _unescape(text(remote_user)),
        "client_ip": remote_addr,
        "user_agent": _unescape(agent),
        "duration_ms": duration,
        DURATION_OUTSIDE_KEY: True,
    }
    if "\\" in request or "\\" in (agent or "") or "\\" in remote_user:
        record[AS_WRITTEN] = {"path": uri, "client": text(remote_user), "user_agent": agent}
    return record
