"""The documented front: nginx with deploy/nginx.conf.template in front of a real gunicorn (4
sync workers, as docker-compose.yml runs it). Slow clients hold nginx connections, never
gunicorn workers; the proxy tells the app which requests came in over HTTPS."""

import socket
import subprocess
import sys
import threading
import time

import httpx
import pytest

from tests.stack.proxy import Nginx
from tests.stack.stack import ROOT, Stack

SLOW_CLIENTS = 50


@pytest.fixture(scope="module")
def front(tmp_path_factory):
    """gunicorn with the production HTTPS settings of .env.example, and nginx in front."""
    tmp = tmp_path_factory.mktemp("front")
    stack = Stack("postgres", tmp, web_workers=4)
    stack.env.update(
        ALLOWED_HOSTS="127.0.0.1,localhost,.example.com",
        SECURE_SSL_REDIRECT="true",
        SECURE_PROXY_SSL_HEADER="HTTP_X_FORWARDED_PROTO,https",
        SECURE_HSTS_SECONDS="31536000",
        SESSION_COOKIE_SECURE="true",
        CSRF_COOKIE_SECURE="true",
    )
    stack.up(worker=False)
    nginx = Nginx(tmp, f"127.0.0.1:{stack.port}").start()
    yield stack, nginx
    nginx.stop()
    stack.down()


class SlowClients:
    """Connections that trickle their request: half send a header line every second (and never
    end the headers), half send complete headers and then a body of 100 kB ten bytes a second."""

    def __init__(self, port: int, count: int, token: str):
        self.socks: list[socket.socket] = []
        self.stop = threading.Event()
        for i in range(count):
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
            if i % 2:
                sock.sendall(b"GET /api/v1/projects/ HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            else:
                sock.sendall(
                    b"POST /ingest/v1/logs HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                    b"Content-Type: application/x-ndjson\r\nContent-Length: 100000\r\n"
                    b"Authorization: Bearer " + token.encode() + b"\r\n\r\n"
                )
            self.socks.append(sock)
        self.thread = threading.Thread(target=self._drip, daemon=True)
        self.thread.start()

    def _drip(self) -> None:
        n = 0
        while not self.stop.wait(1):
            n += 1
            for i, sock in enumerate(self.socks):
                try:
                    sock.sendall(f"X-Slow-{n}: {n}\r\n".encode() if i % 2 else b'{"ts": 1}\n')
                except OSError:
                    pass

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)
        for sock in self.socks:
            sock.close()


def healthz_seconds(url: str, timeout: float = 1.0) -> float:
    started = time.monotonic()
    answer = httpx.get(url + "/healthz", timeout=timeout)
    assert answer.status_code == 200, answer.text
    return time.monotonic() - started


def test_healthz_answers_within_a_second_while_50_slow_clients_hold_connections(front):
    stack, nginx = front
    slow = SlowClients(nginx.port, SLOW_CLIENTS, stack.token)
    try:
        time.sleep(3)  # every slow client is connected and dripping
        times = []
        for _ in range(10):
            times.append(healthz_seconds(nginx.url))
            time.sleep(0.3)
        print(
            f"healthz through nginx with {SLOW_CLIENTS} slow clients: max {max(times) * 1000:.1f} ms"
        )
        assert max(times) < 1.0, times
        # The slow clients are still there, held by nginx (none was cut or answered).
        assert all(sock.fileno() != -1 for sock in slow.socks)
    finally:
        slow.close()


def test_without_the_proxy_the_same_slow_clients_starve_gunicorn(front):
    # What the front is for: gunicorn's sync workers, reached directly, are each held by a
    # slow client, and /healthz waits in the queue behind them.
    stack, _ = front
    slow = SlowClients(stack.port, SLOW_CLIENTS, stack.token)
    try:
        time.sleep(2)
        with pytest.raises(httpx.TimeoutException):
            healthz_seconds(stack.url, timeout=3)
    finally:
        slow.close()
    # Once they are gone, gunicorn answers again.
    assert healthz_seconds(stack.url, timeout=30) < 30


def test_requests_over_plain_http_are_redirected_and_those_from_a_tls_front_are_not(front):
    stack, nginx = front
    plain = httpx.get(nginx.url + "/api/v1/projects/", headers={"Host": "localhost"})
    assert plain.status_code == 301
    assert plain.headers["Location"] == "https://localhost/api/v1/projects/"
    # A load balancer that ended TLS says so; the proxy passes it on and the app answers.
    secure = httpx.get(
        nginx.url + "/api/v1/projects/",
        headers={
            "Host": "localhost",
            "X-Forwarded-Proto": "https",
            "Authorization": f"Token {stack.api_key}",
        },
    )
    assert secure.status_code == 200, secure.text
    assert secure.headers["Strict-Transport-Security"].startswith("max-age=31536000")
    # Health probes speak plain HTTP and are not redirected.
    assert httpx.get(nginx.url + "/healthz").status_code == 200


def test_the_proxy_does_not_take_a_client_word_for_anything_but_https(front):
    stack, nginx = front
    answer = httpx.get(
        nginx.url + "/api/v1/projects/",
        headers={"Host": "localhost", "X-Forwarded-Proto": "gopher"},
    )
    assert answer.status_code == 301  # seen as plain HTTP


def test_the_container_health_check_asks_gunicorn_with_an_allowed_host(front):
    stack, _ = front
    script = str(ROOT / "deploy" / "healthcheck.py")
    base = {"PATH": "/usr/bin:/bin", "CONFLICTWATCH_HEALTH_URL": stack.url + "/healthz"}
    healthy = subprocess.run(
        [sys.executable, script, "web"],
        env={**base, "ALLOWED_HOSTS": ".example.com,localhost"},
        capture_output=True,
        text=True,
    )
    assert healthy.returncode == 0, healthy.stderr
    down = subprocess.run(
        [sys.executable, script, "web"],
        env={**base, "CONFLICTWATCH_HEALTH_URL": "http://127.0.0.1:9/healthz"},
        capture_output=True,
        text=True,
    )
    assert down.returncode == 1 and "web unhealthy" in down.stderr
