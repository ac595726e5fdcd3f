"""Real nginx and Caddy, configured as docs/shipping.md says, in front of a small upstream that
answers the conflict family: their access logs, imported with `importlog`, hold every request
with its status, route, latency and conflict headers.

nginx (Debian's nginx-light) and caddy run as processes of the test user with their own config
files in a temp dir, on free ports; `.ci/run` installs both.
"""

import base64
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import StringIO
from pathlib import Path

import httpx
import pytest
from django.core.management import call_command

from ingest.models import Request
from monitor.models import Project

DOCS = Path(__file__).resolve().parents[2] / "docs" / "shipping.md"
SLOW_MS = 150


@dataclass
class Case:
    method: str
    path: str
    status: int
    route: str
    sent: dict = field(default_factory=dict)  # request headers
    answered: dict = field(default_factory=dict)  # response headers
    delay_ms: int = 0
    body: bytes = b"{}"


# The conflict family as an API answers it (tests/data/formats/README.md, "Story").
CASES = [
    Case("GET", "/v1/orders/42", 200, "/v1/orders/{id}", answered={"ETag": 'W/"7f3a9c"'}),
    Case(
        "POST",
        "/v1/orders",
        201,
        "/v1/orders",
        sent={"Idempotency-Key": "k-1", "Content-Type": "application/json"},
        answered={"Location": "/v1/orders/43", "ETag": '"v1"'},
    ),
    Case(
        "POST",
        "/v1/orders",
        409,
        "/v1/orders",
        sent={"Idempotency-Key": "k-1", "Content-Type": "application/json"},
        body=b'{"error": "order already exists"}',
    ),
    Case(
        "PUT",
        "/v1/orders/42",
        412,
        "/v1/orders/{id}",
        sent={"If-Match": '"v6"'},
        answered={"ETag": '"v7"'},
    ),
    Case(
        "PUT",
        "/v1/orders/17",
        409,
        "/v1/orders/{id}",
        sent={"If-Match": '"v3"'},
        answered={"Retry-After": "2"},
        body=b'{"error": "order is locked"}',
    ),
    Case("DELETE", "/v1/orders/17", 428, "/v1/orders/{id}"),
    Case("PUT", "/v1/orders/43", 409, "/v1/orders/{id}", sent={"If-None-Match": "*"}),
    Case(
        "PATCH",
        "/v1/orders/42",
        200,
        "/v1/orders/{id}",
        sent={"If-Match": '"v7"', "X-Client-Id": "billing-svc"},
        answered={"ETag": '"v8"'},
        delay_ms=SLOW_MS,
    ),
]


class Upstream(BaseHTTPRequestHandler):
    """Answers each request as its case says (the case number rides in the query)."""

    def _answer(self):
        number = int(self.path.rsplit("case=", 1)[1])
        case = CASES[number]
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        if case.delay_ms:
            time.sleep(case.delay_ms / 1000)
        self.send_response(case.status)
        self.send_header("Content-Type", "application/json")
        for name, value in case.answered.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(case.body)))
        self.end_headers()
        self.wfile.write(case.body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _answer

    def log_message(self, *args):
        pass


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"exited with {process.returncode}: {log.read_text()[-2000:]}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"nothing listens on {port}: {log.read_text()[-2000:]}")


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def upstream() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Upstream)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def documented_nginx_log_format() -> str:
    """The `log_format conflictwatch …;` statement of docs/shipping.md, verbatim."""
    match = re.search(r"log_format conflictwatch escape=json\n.*?';", DOCS.read_text(), re.S)
    assert match, "docs/shipping.md has no nginx log_format conflictwatch"
    return match.group(0)


def documented_caddy_log_block() -> str:
    """The `log { … }` block of the Caddyfile in docs/shipping.md, its path replaced below."""
    match = re.search(r"\tlog \{\n.*?\n\t\}\n", DOCS.read_text(), re.S)
    assert match, "docs/shipping.md has no Caddy log block"
    return match.group(0)


def documented_timed_combined_format() -> str:
    """The `log_format timed …;` statement of docs/shipping.md (combined lines with `rt=`)."""
    match = re.search(r"log_format timed .*?';", DOCS.read_text(), re.S)
    assert match, "docs/shipping.md has no nginx log_format timed"
    return match.group(0)


def documented_real_ip_block(trusted: str) -> str:
    """The `set_real_ip_from …` lines of docs/shipping.md, trusting `trusted` instead of the
    example's addresses."""
    match = re.search(
        r"\n\s*(set_real_ip_from \S+;\n.*?real_ip_recursive on;)", DOCS.read_text(), re.S
    )
    assert match, "docs/shipping.md has no set_real_ip_from block"
    block = re.sub(r"set_real_ip_from \S+;", f"set_real_ip_from {trusted};", match.group(1))
    return "\n".join(line.strip() for line in block.splitlines())


def run_nginx(
    tmp: Path,
    port: int,
    upstream: int,
    log_format: str = "",
    http: str = "",
    locations: str = "",
) -> tuple[subprocess.Popen, Path]:
    """nginx writing the access log in `log_format` (a `log_format NAME …;` statement; by
    default the JSON one of docs/shipping.md); `http`: more lines for its http block;
    `locations`: its server's locations (by default `/`, proxied to `upstream`)."""
    locations = locations or f"location / {{ proxy_pass http://127.0.0.1:{upstream}; }}"
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    log_format = log_format or documented_nginx_log_format()
    format_name = log_format.split()[1]
    access_log = tmp / "access.log"
    # As root the workers would switch to `nobody`; keep them the test's user.
    user = "user root;\n" if os.geteuid() == 0 else ""
    temp_paths = "".join(
        f"  {kind}_temp_path {tmp}/{kind};\n"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    (tmp / "nginx.conf").write_text(
        f"{user}daemon off;\nworker_processes 1;\npid {tmp}/nginx.pid;\n"
        f"error_log {tmp}/error.log warn;\n"
        "events { worker_connections 64; }\n"
        "http {\n"
        f"{temp_paths}"
        f"{log_format}\n{http}\n"
        f"  access_log {access_log} {format_name};\n"
        f"  server {{\n    listen 127.0.0.1:{port};\n"
        f"    {locations}\n  }}\n"
        "}\n"
    )
    out = tmp / "nginx.out"
    process = subprocess.Popen(
        [nginx, "-p", str(tmp), "-c", str(tmp / "nginx.conf"), "-e", str(tmp / "error.log")],
        stdout=out.open("wb"),
        stderr=subprocess.STDOUT,
    )
    wait_for_port(port, process, out)
    return process, access_log


def run_caddy(tmp: Path, port: int, upstream: int) -> tuple[subprocess.Popen, Path]:
    caddy = shutil.which("caddy") or "/usr/bin/caddy"
    access_log = tmp / "caddy-access.json.log"
    log_block = documented_caddy_log_block().replace(
        "/var/log/caddy/access.json.log", str(access_log)
    )
    (tmp / "Caddyfile").write_text(
        "{\n\tadmin off\n\tauto_https off\n}\n\n"
        f"http://127.0.0.1:{port} {{\n{log_block}"
        f"\treverse_proxy 127.0.0.1:{upstream}\n}}\n"
    )
    env = {
        **os.environ,
        "HOME": str(tmp),
        "XDG_DATA_HOME": str(tmp / "data"),
        "XDG_CONFIG_HOME": str(tmp / "config"),
    }
    out = tmp / "caddy.out"
    process = subprocess.Popen(
        [caddy, "run", "--config", str(tmp / "Caddyfile"), "--adapter", "caddyfile"],
        stdout=out.open("wb"),
        stderr=subprocess.STDOUT,
        env=env,
        cwd=tmp,
    )
    wait_for_port(port, process, out)
    return process, access_log


def send_every_case(port: int) -> list[float]:
    """The client's time for each case, in ms (from sending to the whole answer read)."""
    elapsed = []
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
        for number, case in enumerate(CASES):
            headers = {"Authorization": "Bearer secret-token", **case.sent}
            body = b'{"item": "book"}' if case.method in ("POST", "PUT", "PATCH") else None
            response = client.request(
                case.method, f"{case.path}?case={number}", headers=headers, content=body
            )
            assert response.status_code == case.status
            elapsed.append(response.elapsed.total_seconds() * 1000)
    return elapsed


def import_log(log: Path, project: str, fmt: str) -> str:
    out = StringIO()
    call_command(
        "importlog", str(log), "--project", project, "--format", fmt, stdout=out, stderr=StringIO()
    )
    return out.getvalue()


def stored_cases(project_slug: str) -> dict[int, Request]:
    """{case number: its stored row}, checked against what the case sent and got."""
    project = Project.objects.get(slug=project_slug)
    rows = {row.query: row for row in Request.objects.filter(project=project)}
    assert len(rows) == len(CASES)
    for number, case in enumerate(CASES):
        row = rows[f"case={number}"]
        assert (row.method, row.path, row.status, row.route) == (
            case.method,
            case.path,
            case.status,
            case.route,
        ), number
    return {number: rows[f"case={number}"] for number in range(len(CASES))}


def assert_every_case_stored(project_slug: str, *, client_header: bool) -> None:
    rows = stored_cases(project_slug)
    for number, case in enumerate(CASES):
        row = rows[number]
        for name, value in case.sent.items():
            if name.lower() in ("if-match", "if-none-match", "idempotency-key", "content-type"):
                assert row.request_headers[name.lower()] == value, (number, name)
        assert "authorization" not in row.request_headers
        for name, value in case.answered.items():
            assert row.response_headers[name.lower()] == value, (number, name)
        assert row.duration_ms is not None and 0 <= row.duration_ms < 5000, number
        if case.delay_ms:
            # Gateways log milliseconds (nginx) or better (Caddy).
            assert row.duration_ms >= case.delay_ms - 1, number
        if client_header and "X-Client-Id" in case.sent:
            assert row.client == case.sent["X-Client-Id"]
        else:
            assert row.client == "127.0.0.1"


def test_nginx_access_log_in_the_documented_format_holds_every_request(db, tmp_path, upstream):
    port = free_port()
    process, access_log = run_nginx(tmp_path, port, upstream)
    try:
        send_every_case(port)
    finally:
        stop(process)
    summary = import_log(access_log, "nginx-edge", "nginx")
    assert f"{len(CASES)} accepted, 0 duplicates, 0 rejected" in summary
    assert_every_case_stored("nginx-edge", client_header=True)
    # nginx's $request_id is the dedup key: a second import stores nothing new.
    assert f"0 accepted, {len(CASES)} duplicates" in import_log(access_log, "nginx-edge", "nginx")


def test_caddy_json_access_log_holds_every_request(db, tmp_path, upstream):
    port = free_port()
    process, access_log = run_caddy(tmp_path, port, upstream)
    try:
        send_every_case(port)
    finally:
        stop(process)
    summary = import_log(access_log, "caddy-edge", "caddy")
    assert f"{len(CASES)} accepted, 0 duplicates, 0 rejected" in summary
    assert_every_case_stored("caddy-edge", client_header=False)
    assert f"0 accepted, {len(CASES)} duplicates" in import_log(access_log, "caddy-edge", "caddy")


def test_nginx_combined_lines_with_the_request_time_have_their_durations(db, tmp_path, upstream):
    port = free_port()
    process, access_log = run_nginx(tmp_path, port, upstream, documented_timed_combined_format())
    try:
        client_ms = send_every_case(port)
    finally:
        stop(process)
    summary = import_log(access_log, "nginx-timed", "nginx")
    assert f"{len(CASES)} accepted, 0 duplicates, 0 rejected" in summary
    for number, row in stored_cases("nginx-timed").items():
        # nginx's time is within the client's (nginx rounds to the millisecond).
        assert row.duration_ms is not None, number
        assert 0 <= row.duration_ms <= client_ms[number] + 1, number
        assert row.duration_ms >= CASES[number].delay_ms - 1, number


def test_combined_lines_stored_before_their_request_time_was_read_are_not_stored_again(
    db, tmp_path, upstream
):
    port = free_port()
    process, access_log = run_nginx(tmp_path, port, upstream, documented_timed_combined_format())
    try:
        send_every_case(port)
    finally:
        stop(process)
    lines = access_log.read_text().splitlines()
    assert len(lines) == len(CASES) and all(" rt=" in line for line in lines)
    # What a version that read no `rt=` took in: the same lines without it.
    plain = tmp_path / "plain.log"
    plain.write_text("".join(line.rsplit(" rt=", 1)[0] + "\n" for line in lines))
    assert f"{len(CASES)} accepted" in import_log(plain, "upgraded", "nginx")
    again = import_log(access_log, "upgraded", "nginx")
    assert f"0 accepted, {len(CASES)} duplicates, 0 rejected" in again
    assert Request.objects.filter(project__slug="upgraded").count() == len(CASES)


def test_behind_a_load_balancer_nginx_logs_the_address_it_forwarded(db, tmp_path, upstream):
    """The real-IP lines of docs/shipping.md, trusting this test's address as the load
    balancer's: each request's client is the address in its X-Forwarded-For."""
    port = free_port()
    process, access_log = run_nginx(
        tmp_path, port, upstream, http=documented_real_ip_block("127.0.0.1")
    )
    sent = {}
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            for number, case in enumerate(CASES):
                address = f"203.0.113.{number + 1}"
                headers = {"X-Forwarded-For": f"198.51.100.9, {address}", **case.sent}
                response = client.request(
                    case.method, f"{case.path}?case={number}", headers=headers
                )
                assert response.status_code == case.status
                sent[number] = address
    finally:
        stop(process)
    import_log(access_log, "behind-lb", "nginx")
    for number, row in stored_cases("behind-lb").items():
        assert row.client_ip == sent[number], number
        if "X-Client-Id" not in CASES[number].sent:
            assert row.client == sent[number], number


# Requests whose path, user agent or user nginx escapes in a combined line (`"`, `\\`, bytes
# outside printable ASCII, a space in a Basic user name) and writes JSON-escaped with
# escape=json: (request target, user agent, Basic credentials).
HOSTILE = [
    (b'/v1/orders/"quoted"', b"curl/8.4.0", None),
    (b"/v1/orders/back\\slash", b'evil "agent" \\ \\x22 <script>', None),
    ("/v1/orders/café".encode(), "ünïcode ☃".encode(), None),
    (b"/v1/orders/x\\x22y", b"bad \xff\xfe bytes", None),
    (b"/v1/orders/42", b'x" rt=99.000 "', b"john doe:pw"),
    (b"/v1/orders/42", b"curl/8.4.0", b"a]b [x:pw"),
]


def send_raw(port: int, target: bytes, agent: bytes, basic: bytes | None) -> int:
    auth = b"Authorization: Basic " + base64.b64encode(basic) + b"\r\n" if basic else b""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(
            b"GET " + target + b"?case=0 HTTP/1.1\r\nHost: api.shop.example\r\n"
            b"User-Agent: " + agent + b"\r\n" + auth + b"Connection: close\r\n\r\n"
        )
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return int(answer.split(b" ", 2)[1])


def test_nginx_combined_and_json_logs_read_hostile_requests_alike(db, tmp_path, upstream):
    """The same requests through one nginx writing both logs: the combined lines, with their
    `\\xHH` escapes and unquoted user names, read as the JSON lines do."""
    port = free_port()
    combined = tmp_path / "combined.log"
    process, json_log = run_nginx(
        tmp_path, port, upstream, http=f"  access_log {combined} combined;"
    )
    try:
        for target, agent, basic in HOSTILE:
            assert send_raw(port, target, agent, basic) == 200
    finally:
        stop(process)
    assert f"{len(HOSTILE)} accepted, 0 duplicates, 0 rejected" in import_log(
        combined, "hostile-combined", "nginx"
    )
    assert f"{len(HOSTILE)} accepted" in import_log(json_log, "hostile-json", "nginx")

    def read(slug: str) -> list[tuple]:
        rows = Request.objects.filter(project__slug=slug).order_by("ts", "id")
        return sorted((r.path, r.query, r.user_agent, r.client) for r in rows)

    assert read("hostile-combined") == read("hostile-json")
    assert ("/v1/orders/42", "case=0", 'x" rt=99.000 "', "john doe") in read("hostile-json")


class AuthService(BaseHTTPRequestHandler):
    """Answers nginx's auth_request: 204 with the caller's id in X-Client-Id, 401 without a
    token."""

    def do_GET(self):
        token = (self.headers.get("Authorization") or "").removeprefix("Bearer ")
        self.send_response(204 if token else 401)
        if token:
            self.send_header("X-Client-Id", f"key-{token}")
        self.end_headers()

    def log_message(self, *args):
        pass


def documented_auth_request_locations(api: int, auth: int) -> str:
    """The `location / { auth_request … }` lines of docs/shipping.md, pointed at `api` and the
    auth service on `auth`."""
    match = re.search(
        r"\n\s*(location / \{\n\s*auth_request .*?\n\s*\}\n.*?\n\s*\})\n", DOCS.read_text(), re.S
    )
    assert match, "docs/shipping.md has no auth_request example"
    block = match.group(1).replace("http://api", f"http://127.0.0.1:{api}")
    return block.replace("http://auth-service/check", f"http://127.0.0.1:{auth}/check")


def test_nginx_logs_the_client_its_auth_service_named_not_the_one_sent(db, tmp_path, upstream):
    """The auth_request example of docs/shipping.md, with its `"client_id":"$client_id"`: the
    client is the id the auth service answered, whatever X-Client-Id the client sent."""
    auth = ThreadingHTTPServer(("127.0.0.1", 0), AuthService)
    threading.Thread(target=auth.serve_forever, daemon=True).start()
    log_format = documented_nginx_log_format().replace(
        '"client_id":"$http_x_client_id"', '"client_id":"$client_id"'
    )
    assert '"$client_id"' in log_format
    port = free_port()
    process, access_log = run_nginx(
        tmp_path,
        port,
        upstream,
        log_format,
        locations=documented_auth_request_locations(upstream, auth.server_address[1]),
    )
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            sent = {"Authorization": "Bearer t-7", "X-Client-Id": "someone-else"}
            assert client.get("/v1/orders/42?case=0", headers=sent).status_code == 200
            assert client.get("/v1/orders/42?case=0").status_code == 401
    finally:
        stop(process)
        auth.shutdown()
        auth.server_close()
    import_log(access_log, "authed", "nginx")
    rows = Request.objects.filter(project__slug="authed").order_by("ts")
    assert [(row.status, row.client) for row in rows] == [(200, "key-t-7"), (401, "127.0.0.1")]
