"""A corpus of hostile records, each written in every ingest format that can carry it.

A `Case` is one request as a test means it (native field names) and what must become of it: the
error it is rejected with, or stored (with bounded fields). `render(case, door)` writes it as
that door's record: a native record, an nginx JSON log line (the documented `log_format`), an
nginx `combined` line, or an OTLP/JSON span. A case a door cannot carry (a response header in a
`combined` line) is left out of that door.

Times are relative to now, so that the corpus stays inside the time ingest accepts.
"""

import random
import string
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from tests.ingest.otlp_spans import key_values

NOW = datetime.now(UTC).replace(microsecond=0)
BASE = NOW - timedelta(hours=1)
DOORS = ("native", "nginx", "combined", "otlp")


def incompressible(n: int, seed: int) -> str:
    """Letters and digits no compressor shrinks much (Postgres compresses long index keys)."""
    rnd = random.Random(seed)
    return "".join(rnd.choice(string.ascii_letters + string.digits) for _ in range(n))


@dataclass
class Case:
    name: str
    # The request, with native field names (ts as a datetime, headers as a dict).
    request: dict
    # The error prefix it is rejected with; None when it is stored.
    error: str | None = None
    # Doors that cannot carry it.
    skip: frozenset = frozenset()
    extra: dict = field(default_factory=dict)


def _request(i: int, **fields) -> dict:
    rec = {
        "ts": BASE + timedelta(seconds=i),
        "method": "GET",
        "path": f"/v1/orders/{i}",
        "status": 200,
        "client": "acme",
        "client_ip": "203.0.113.10",
        "request_id": f"hostile-{i}",
    }
    rec.update(fields)
    return rec


LONG_RESOURCE = "/v1/blobs/" + incompressible(6000, seed=1)
# Clients of 256 four-byte characters (1 KiB of UTF-8 each): the race pair key holds two.
WINNER = "\U0001f600" * 256
LOSER = "\U0001f47e" * 256

CASES = [
    Case("good", _request(1)),
    # A derived route longer than Endpoint.route (512).
    Case("long route", _request(2, path="/" + "/".join(["ab"] * 900))),
    # A few KB of incompressible path: over the btree key size as a resource; written by one
    # client and then refused to another, so that it reaches the resource and race-pair keys.
    Case("long resource won", _request(3, method="PUT", path=LONG_RESOURCE, client=WINNER)),
    Case(
        "long resource lost",
        _request(4, method="PUT", path=LONG_RESOURCE, status=409, client=LOSER),
    ),
    Case(
        "long texts",
        _request(
            5,
            host="\U0001f310" * 5000,
            user_agent="\U0001f916" * 5000,
            service="\U0001f6e0" * 5000,
        ),
        skip=frozenset({"combined"}),
    ),
    Case(
        "long request id",
        _request(6, request_id="r" * 200 + "-one"),
        skip=frozenset({"combined"}),
    ),
    Case(
        "long request id with the same start",
        _request(7, request_id="r" * 200 + "-two"),
        skip=frozenset({"combined"}),
    ),
    Case("from 2001", _request(8, ts=datetime(2001, 3, 4, 5, 6, 7, tzinfo=UTC)), "ts: older than"),
    Case("last month", _request(9, ts=NOW - timedelta(days=30)), "ts: older than 14 days"),
    Case(
        "next week",
        _request(10, ts=NOW + timedelta(days=7)),
        "ts: more than a day in the future",
    ),
    # Byte-identical requests without a request id: two requests, not a resend.
    Case("look-alike", _request(11, request_id=None)),
    Case("look-alike again", _request(11, request_id=None)),
    Case("good too", _request(12)),
]
STORED = [case for case in CASES if case.error is None]


# --- secrets: each case plants one value that must never reach the database -----------------


def secret(label: str) -> str:
    return "zz" + "".join(c for c in label if c.isalnum()) + "Secret7q"


# Query parameters named as real services name credentials.
SECRET_PARAMS = [
    "accessToken",
    "authToken",
    "X-Amz-Signature",
    "X-Goog-Signature",
    "X-Amz-Credential",
    "X-Amz-Security-Token",
    "jwt",
    "passwd",
    "pwd",
    "auth",
    "session_id",
    "token[]",
    "token%5B%5D",
    "api_key",
    "code",
    "client_secret",
    "id_token",
    "PHPSESSID",
]


def _secret_cases() -> list[Case]:
    cases = []

    def add(label: str, skip=frozenset(), **fields) -> None:
        i = 100 + len(cases)
        rec = _request(i, **({"path": f"/v1/search/{i}"} | fields))
        cases.append(
            Case(f"secret {label}", rec, skip=frozenset(skip), extra={"secret": secret(label)})
        )

    for name in SECRET_PARAMS:
        add(name, query=f"page=2&{name}={secret(name)}&sort=asc")
    add("semicolon", query=f"a=1;token={secret('semicolon')};b=2")
    add("nested url", query="next=https%3A%2F%2Fapp.example%2Fcb%3Fcode%3D" + secret("nested url"))
    add("matrix", path=f"/cart;jsessionid={secret('matrix')}/items")
    add("fragment", path=f"/cb#access_token={secret('fragment')}&state=1")
    for label, scheme in (("upper scheme", "HTTPS"), ("mixed scheme", "hTTp"), ("ws", "WSS")):
        add(label, path=f"{scheme}://alice:{secret(label)}@api.example/v1/orders/7")
    headless = frozenset({"combined"})
    add("host", headless, host=f"carol:{secret('host')}@api.example")
    for label, location in (
        ("location code", "https://app.example/cb?code={}&state=ok"),
        ("location access token", "/done?access_token={}"),
        ("location fragment", "https://app.example/cb#id_token={}&x=1"),
        ("location userinfo", "HTTPS://u:{}@app.example/x"),
    ):
        add(
            label,
            headless,
            status=302,
            response_headers={"Location": location.format(secret(label))},
        )
    add(
        "content location",
        headless,
        response_headers={"Content-Location": f"/v1/x?sig={secret('content location')}"},
    )
    add(
        "referer",
        headless,
        request_headers={"Referer": f"https://app.example/p?sessionToken={secret('referer')}"},
    )
    return cases


SECRETS = _secret_cases()
# Headers the secrets test's project keeps beside the allow-list (its URL values are scrubbed).
SECRET_TEST_HEADERS = ["referer", "content-location"]


def _epoch(ts: datetime) -> float:
    return ts.timestamp()


def native(rec: dict) -> dict:
    out = {k: v for k, v in rec.items() if v is not None}
    out["ts"] = rec["ts"].isoformat().replace("+00:00", "Z")
    return out


def nginx_json(rec: dict) -> dict:
    """A line of the nginx `log_format conflictwatch` (docs/shipping.md) as a dict."""
    uri = rec["path"] + (f"?{rec['query']}" if rec.get("query") else "")
    line = {
        "msec": f"{_epoch(rec['ts']):.3f}",
        "request_time": "0.010",
        "request_id": rec.get("request_id") or "",
        "remote_addr": rec.get("client_ip", ""),
        "remote_user": "",
        "client_id": rec.get("client") or "",
        "host": rec.get("host") or "api.shop.example",
        "request_method": rec["method"],
        "request_uri": uri,
        "status": str(rec["status"]),
        "http_user_agent": rec.get("user_agent") or "",
    }
    for name, value in (rec.get("response_headers") or {}).items():
        line["sent_http_" + name.lower().replace("-", "_")] = value
    for name, value in (rec.get("request_headers") or {}).items():
        line["http_" + name.lower().replace("-", "_")] = value
    # The request started `request_time` before the line was written.
    line["msec"] = f"{_epoch(rec['ts']) + 0.010:.3f}"
    return line


def combined(rec: dict) -> str:
    """An nginx `combined` line: no request id, no headers, times to the second."""
    uri = rec["path"] + (f"?{rec['query']}" if rec.get("query") else "")
    when = rec["ts"].astimezone(UTC).strftime("%d/%b/%Y:%H:%M:%S +0000")
    client = rec.get("client") or "-"
    agent = rec.get("user_agent") or "curl/8.5"
    return (
        f'{rec.get("client_ip", "-")} - {client} [{when}] "{rec["method"]} {uri} HTTP/1.1" '
        f'{rec["status"]} 12 "-" "{agent}"'
    )


def otlp_span(rec: dict, index: int) -> dict:
    """An OTLP/JSON SERVER span."""
    attributes = {
        "http.request.method": rec["method"],
        "url.path": rec["path"],
        "http.response.status_code": rec["status"],
        "client.address": rec.get("client_ip", ""),
    }
    if "://" in rec["path"]:
        del attributes["url.path"]
        attributes["url.full"] = rec["path"] + (f"?{rec['query']}" if rec.get("query") else "")
    elif rec.get("query"):
        attributes["url.query"] = rec["query"]
    for name, attribute in (
        ("client", "enduser.id"),
        ("host", "server.address"),
        ("user_agent", "user_agent.original"),
    ):
        if rec.get(name):
            attributes[attribute] = rec[name]
    if rec.get("request_id"):
        attributes["http.request.header.x-request-id"] = [rec["request_id"]]
    for name, value in (rec.get("request_headers") or {}).items():
        attributes[f"http.request.header.{name.lower()}"] = [value]
    for name, value in (rec.get("response_headers") or {}).items():
        attributes[f"http.response.header.{name.lower()}"] = [value]
    start = int(_epoch(rec["ts"]) * 1e9)
    return {
        "traceId": "0af7651916cd43dd8448eb211c80319c",
        "spanId": f"{index + 1:016x}",
        "name": "span",
        "kind": 2,
        "startTimeUnixNano": str(start),
        "endTimeUnixNano": str(start + 10_000_000),
        "attributes": key_values(attributes),
    }


def otlp_body(records: list[dict], service: str = "shop") -> dict:
    spans = [otlp_span(rec, i) for i, rec in enumerate(records)]
    services = {rec.get("service") for rec in records} - {None}
    name = services.pop() if services else service
    resource = {"attributes": key_values({"service.name": name})}
    return {"resourceSpans": [{"resource": resource, "scopeSpans": [{"spans": spans}]}]}


def for_door(door: str, cases: list[Case] = CASES) -> list[Case]:
    return [case for case in cases if door not in case.skip]


def render(door: str, cases: list[Case]):
    """The cases as the door's body: a list of dicts (native, nginx JSON), of lines
    (combined), or an OTLP/JSON export (a dict)."""
    records = [case.request for case in cases]
    if door == "native":
        return [native(rec) for rec in records]
    if door == "nginx":
        return [nginx_json(rec) for rec in records]
    if door == "combined":
        return [combined(rec) for rec in records]
    if door == "otlp":
        return otlp_body(records)
    raise ValueError(door)
