"""Real servers that answer write conflicts, behind real nginx, driven by concurrent clients
that record the ground truth of every conflict they meet.

- pouchdb-server (npm, the CouchDB HTTP API, in memory): the version a write expects is the
  `?rev=` query parameter; a stale one answers 409, a create of a document that exists
  answers 409, a create of a database that exists answers 412.
- WsgiDAV (PyPI, WebDAV on cheroot): `If-Match` and `If-None-Match: *` answer 412, a LOCK
  held by another client answers 423.

nginx (Debian's nginx-light) runs as a process of the test with its config in a temp dir and
writes the JSON access log of docs/shipping.md (its `log_format`, verbatim but for the request
id: the client's own, so that the test can join its truth to the stored rows).

Ground truth is what the driving client meant and did: the cause it provoked (a stale
version it sent, a create of what another client created, a write on a locked file) and what
it did next (retried with a fresh version and succeeded or conflicted again, resent the same
stale version, or gave up). The race winner of a create is the other client's create that
succeeded.
"""

import json
import logging
import os
import random
import shutil
import signal
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.ingest.test_real_gateways import documented_nginx_log_format
from tests.stack.stack import ROOT, free_port, wait_for

logging.getLogger("httpx").setLevel(logging.WARNING)

NGINX_MAIN = """
daemon off;
worker_processes 2;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log warn;
{user}
events {{ worker_connections 256; }}
http {{
    client_body_temp_path {tmp}/nginx-body;
    proxy_temp_path {tmp}/nginx-proxy;
    fastcgi_temp_path {tmp}/nginx-fastcgi;
    uwsgi_temp_path {tmp}/nginx-uwsgi;
    scgi_temp_path {tmp}/nginx-scgi;
    {log_format}
    access_log {tmp}/access.json.log conflictwatch;
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://127.0.0.1:{upstream};
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $http_host;
        }}
    }}
}}
"""


class Process:
    """A server process of the test, stopped with its process group."""

    def __init__(self, args: list[str], tmp: Path, name: str, cwd: Path | None = None):
        self.log = tmp / f"{name}.out"
        self.proc = subprocess.Popen(
            args,
            cwd=cwd or tmp,
            stdout=open(self.log, "ab"),  # noqa: SIM115 - open while it runs
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def alive(self) -> bool:
        assert self.proc.poll() is None, self.log.read_text()[-3000:]
        return True

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code < 500
    except httpx.HTTPError:
        return False


def start_pouchdb(tmp: Path) -> tuple[Process, int]:
    port = free_port()
    binary = ROOT / "node_modules" / ".bin" / "pouchdb-server"
    assert binary.exists(), "pouchdb-server is a devDependency: run `make install-dev`"
    data = tmp / "pouchdb"
    data.mkdir()
    proc = Process(
        [str(binary), "--in-memory", "--host", "127.0.0.1", "--port", str(port)],
        tmp,
        "pouchdb",
        cwd=data,
    )
    wait_for(lambda: proc.alive() and _answers(f"http://127.0.0.1:{port}/"), 30, "pouchdb")
    return proc, port


def start_wsgidav(tmp: Path) -> tuple[Process, int]:
    port = free_port()
    root = tmp / "dav"
    root.mkdir()
    binary = Path(shutil.which("wsgidav", path=str(ROOT / ".venv" / "bin")) or "wsgidav")
    proc = Process(
        [str(binary), "--host", "127.0.0.1", "--port", str(port), "--root", str(root)]
        + ["--auth", "anonymous", "-q"],
        tmp,
        "wsgidav",
    )
    wait_for(lambda: proc.alive() and _answers(f"http://127.0.0.1:{port}/"), 30, "wsgidav")
    return proc, port


def start_nginx(tmp: Path, upstream: int) -> tuple[Process, int, Path]:
    port = free_port()
    user = "user root;" if os.geteuid() == 0 else ""
    log_format = documented_nginx_log_format().replace(
        '"request_id":"$request_id"', '"request_id":"$http_x_request_id"'
    )
    assert "$http_x_request_id" in log_format
    (tmp / "nginx.conf").write_text(
        NGINX_MAIN.format(tmp=tmp, user=user, port=port, upstream=upstream, log_format=log_format)
    )
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    proc = Process(
        [binary, "-c", str(tmp / "nginx.conf"), "-p", str(tmp), "-e", "stderr"], tmp, "nginx"
    )
    wait_for(lambda: proc.alive() and _answers(f"http://127.0.0.1:{port}/"), 15, "nginx")
    return proc, port, tmp / "access.json.log"


@dataclass
class Truth:
    """What really happened to one conflict."""

    request_id: str
    client: str
    cause: str
    outcome: str = "abandoned"  # until the client's next write says otherwise
    winner: str | None = None  # request id of the write that beat it (creates)


@dataclass
class Sent:
    request_id: str
    status: int
    headers: httpx.Headers
    body: bytes


@dataclass
class Driver:
    """Clients sending through nginx; every conflict is written down with its truth."""

    base: str
    rng: random.Random
    truth: dict[str, Truth] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def send(self, client: str, method: str, path: str, **kw) -> Sent:
        rid = str(uuid.uuid4())
        headers = {"X-Client-Id": client, "X-Request-ID": rid, **kw.pop("headers", {})}
        response = httpx.request(method, self.base + path, headers=headers, timeout=10, **kw)
        return Sent(rid, response.status_code, response.headers, response.content)

    def conflict(self, sent: Sent, client: str, cause: str, winner: str | None = None) -> Truth:
        t = Truth(sent.request_id, client, cause, winner=winner)
        with self.lock:
            self.truth[sent.request_id] = t
        return t

    def at_once(self, *requests: tuple) -> list[Sent]:
        """Send the requests ((client, method, path, keywords)) from threads released
        together (a race)."""
        barrier = threading.Barrier(len(requests))
        results: list[Sent | None] = [None] * len(requests)
        delays = [self.rng.random() * 0.004 for _ in requests]

        def run(i, client, method, path, kw):
            barrier.wait()
            time.sleep(delays[i])
            results[i] = self.send(client, method, path, **kw)

        threads = [
            threading.Thread(target=run, args=(i, *request)) for i, request in enumerate(requests)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        return results  # type: ignore[return-value]

    @staticmethod
    def settle(truth: Truth, retry: Sent, blind: bool = False) -> None:
        """The conflict's next write was `retry`."""
        if 200 <= retry.status < 300:
            truth.outcome = "resolved"
        else:
            truth.outcome = "blind" if blind else "retried"


CLIENTS = ("mobile-app", "billing-svc", "web-ui", "sync-job")


def couch_traffic(driver: Driver, episodes: int) -> None:
    """CouchDB's ways to conflict, each episode on documents of its own."""
    rng = driver.rng
    a = driver.send("admin", "PUT", "/shop")
    assert a.status == 201, a.body
    for n in range(episodes):
        first, second = rng.sample(CLIENTS, 2)
        kind = n % 5
        doc = f"/shop/order-{n}"
        if kind in (0, 1):
            # Two clients update what they both read: the stale ?rev= loses (409).
            made = driver.send(first, "PUT", doc, json={"n": n, "v": 0})
            rev = _rev(made)
            read = driver.send(second, "GET", doc)
            assert read.status == 200
            results = driver.at_once(
                (first, "PUT", f"{doc}?rev={rev}", {"json": {"by": first}}),
                (second, "PUT", f"{doc}?rev={rev}", {"json": {"by": second}}),
            )
            for who, sent in zip((first, second), results, strict=True):
                if sent.status != 409:
                    continue
                t = driver.conflict(sent, who, "stale_version")
                choice = rng.random()
                if choice < 0.5:  # refetch, then update with the fresh revision
                    fresh = _rev(driver.send(who, "GET", doc))
                    driver.settle(t, driver.send(who, "PUT", f"{doc}?rev={fresh}", json={}))
                elif choice < 0.75:  # resend the same stale revision, then give up
                    again = driver.send(who, "PUT", f"{doc}?rev={rev}", json={"by": who})
                    driver.settle(t, again, blind=True)
                    if again.status == 409:
                        driver.conflict(again, who, "stale_version")
        elif kind == 2:
            # Two clients create the same document, neither having seen it: one 201, one 409.
            results = driver.at_once(
                (first, "PUT", doc, {"json": {"by": first}}),
                (second, "PUT", doc, {"json": {"by": second}}),
            )
            won = [s for s in results if s.status == 201]
            for who, sent in zip((first, second), results, strict=True):
                if sent.status != 409:
                    continue
                t = driver.conflict(
                    sent, who, "duplicate", winner=won[0].request_id if won else None
                )
                if rng.random() < 0.5:  # read what exists, then update it
                    fresh = _rev(driver.send(who, "GET", doc))
                    driver.settle(t, driver.send(who, "PUT", f"{doc}?rev={fresh}", json={}))
        elif kind == 3:
            # A delete with a revision another client replaced meanwhile.
            made = driver.send(first, "PUT", doc, json={"n": n})
            old = _rev(made)
            driver.send(second, "PUT", f"{doc}?rev={old}", json={"by": second})
            gone = driver.send(first, "DELETE", f"{doc}?rev={old}")
            assert gone.status == 409, gone.body
            t = driver.conflict(gone, first, "stale_version")
            if rng.random() < 0.6:
                fresh = _rev(driver.send(first, "GET", doc))
                driver.settle(t, driver.send(first, "DELETE", f"{doc}?rev={fresh}"))
        else:
            # Creates that already happened: a POST of an existing _id (409), a database
            # created twice (412, no precondition sent). The client then goes on with
            # another create, which is no retry of this one. (Each episode's documents
            # have a size of their own, as different creates mostly do.)
            ext = {"_id": f"ext-{n}-" + "p" * n}
            made = driver.send(first, "POST", "/shop", json=ext)
            assert made.status == 201, made.body
            dup = driver.send(second, "POST", "/shop", json=ext)
            assert dup.status == 409, dup.body
            t = driver.conflict(dup, second, "duplicate")
            if rng.random() < 0.5:  # the same create again, at once: a retry
                again = driver.send(second, "POST", "/shop", json=ext)
                driver.settle(t, again)
                if again.status == 409:
                    driver.conflict(again, second, "duplicate")
            else:
                other = driver.send(second, "POST", "/shop", json={"_id": f"other-{n}", "x": 1})
                assert other.status == 201
            db = f"/archive-{n}"
            assert driver.send(first, "PUT", db).status == 201
            twice = driver.send(second, "PUT", db)
            assert twice.status == 412, twice.body
            driver.conflict(twice, second, "duplicate")


def _rev(sent: Sent) -> str:
    body = json.loads(sent.body)
    return body.get("rev") or body.get("_rev")


def dav_traffic(driver: Driver, episodes: int) -> None:
    """WebDAV's ways to conflict, each episode on a file of its own. Every write has a size
    of its own, so that the server's ETag (size and time) changes with each."""
    rng = driver.rng
    size = iter(range(10, 10**6))

    def body() -> bytes:
        return b"x" * next(size)

    for n in range(episodes):
        first, second = rng.sample(CLIENTS, 2)
        kind = n % 3
        path = f"/notes-{n}.txt"
        if kind == 0:
            # Both read the ETag, both write with If-Match: the second to arrive gets 412.
            driver.send(first, "PUT", path, content=body())
            tag = driver.send(first, "GET", path).headers["etag"]
            driver.send(second, "GET", path)
            results = driver.at_once(
                (first, "PUT", path, {"content": body(), "headers": _im(tag)}),
                (second, "PUT", path, {"content": body(), "headers": _im(tag)}),
            )
            for who, sent in zip((first, second), results, strict=True):
                if sent.status != 412:
                    continue
                t = driver.conflict(sent, who, "stale_version")
                choice = rng.random()
                if choice < 0.5:
                    fresh = driver.send(who, "GET", path).headers["etag"]
                    retry = driver.send(who, "PUT", path, content=body(), headers=_im(fresh))
                    driver.settle(t, retry)
                    if retry.status == 412:
                        driver.conflict(retry, who, "stale_version")
                elif choice < 0.75:
                    again = driver.send(who, "PUT", path, content=body(), headers=_im(tag))
                    driver.settle(t, again, blind=True)
                    if again.status == 412:
                        driver.conflict(again, who, "stale_version")
        elif kind == 1:
            # Two create-only PUTs (If-None-Match: *): one creates, the other gets 412.
            create = {"If-None-Match": "*"}
            results = driver.at_once(
                (first, "PUT", path, {"content": body(), "headers": create}),
                (second, "PUT", path, {"content": body(), "headers": create}),
            )
            for who, sent in zip((first, second), results, strict=True):
                if sent.status != 412:
                    continue
                t = driver.conflict(sent, who, "duplicate")
                if rng.random() < 0.5:
                    fresh = driver.send(who, "GET", path).headers["etag"]
                    retry = driver.send(who, "PUT", path, content=body(), headers=_im(fresh))
                    driver.settle(t, retry)
                    if retry.status == 412:
                        driver.conflict(retry, who, "stale_version")
        else:
            # A file locked by one client; the other's write gets 423, then waits for the
            # unlock and writes again (or gives up).
            driver.send(first, "PUT", path, content=body())
            locked = driver.send(
                first,
                "LOCK",
                path,
                content=LOCKINFO,
                headers={"Content-Type": "application/xml", "Timeout": "Second-60"},
            )
            token = locked.headers["lock-token"]
            refused = driver.send(second, "PUT", path, content=body())
            assert refused.status == 423, refused.status
            t = driver.conflict(refused, second, "lock")
            driver.send(first, "UNLOCK", path, headers={"Lock-Token": token})
            if rng.random() < 0.7:
                driver.settle(t, driver.send(second, "PUT", path, content=body()))


def _im(tag: str) -> dict:
    return {"If-Match": tag}


LOCKINFO = (
    b'<?xml version="1.0" encoding="utf-8"?><D:lockinfo xmlns:D="DAV:">'
    b"<D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype>"
    b"<D:owner>test</D:owner></D:lockinfo>"
)
