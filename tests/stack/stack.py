"""A real ConflictWatch deployment in processes: gunicorn, Celery worker, Redis, and Postgres
(a database of its own) or SQLite in embedded mode. Tests talk to it over HTTP only."""

import gzip
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import psycopg

ROOT = Path(__file__).resolve().parents[2]
PG_ADMIN_URL = os.environ.get(
    "CONFLICTWATCH_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres"
)
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout: float, what: str, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


class Stack:
    def __init__(
        self, mode: str, tmp: Path, web_workers: int = 2, pg_admin_url: str = PG_ADMIN_URL
    ):
        self.mode = mode
        self.web_workers = web_workers
        self.tmp = tmp
        self.procs: dict[str, subprocess.Popen] = {}
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "CELERY_"))
        }
        self.pg_admin_url = pg_admin_url
        self.env.update(
            DJANGO_SETTINGS_MODULE="monitor.settings",
            # Production mode, as deployed: DEBUG off needs a key of its own.
            DEBUG="0",
            SECRET_KEY="stack-test",
            CONFLICTWATCH_SWEEP_AFTER_SECONDS="1",
            PYTHONUNBUFFERED="1",
        )
        # /metrics under gunicorn: prometheus_client's multi-process files (gunicorn.conf.py).
        self.metrics_dir = tmp / "prometheus"
        self.metrics_dir.mkdir()
        self.env["PROMETHEUS_MULTIPROC_DIR"] = str(self.metrics_dir)
        if mode == "postgres":
            self.dbname = f"cw_stack_{uuid.uuid4().hex[:10]}"
            base = pg_admin_url.rsplit("/", 1)[0]
            self.db_url = f"{base}/{self.dbname}"
            with psycopg.connect(pg_admin_url, autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{self.dbname}"')
            self.redis_port = free_port()
            self.env["CELERY_BROKER_URL"] = f"redis://127.0.0.1:{self.redis_port}/0"
        else:
            self.db_url = f"sqlite:///{tmp / 'stack.sqlite3'}"
        self.env["DATABASE_URL"] = self.db_url

    # -- processes -------------------------------------------------------------------------
    def manage(self, *args: str) -> str:
        out = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if out.returncode != 0:
            raise AssertionError(f"manage.py {' '.join(args)} failed:\n{out.stdout}\n{out.stderr}")
        return out.stdout

    def _start(self, name: str, cmd: list[str]) -> None:
        log = open(self.tmp / f"{name}.log", "ab")
        self.procs[name] = subprocess.Popen(
            cmd,
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def start_redis(self) -> None:
        self._start(
            "redis",
            [
                shutil.which("redis-server") or "redis-server",
                "--port",
                str(self.redis_port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
        )
        wait_for(lambda: self._redis_up(), 10, "redis")

    def _redis_up(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.redis_port), timeout=0.2) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def start_web(self, access_log: bool = False) -> None:
        """gunicorn with `web_workers` sync workers; `access_log` writes web-access.log with
        the serving worker's pid, status, method and path on each line."""
        log = []
        if access_log:
            log = [
                "--access-logfile",
                str(self.tmp / "web-access.log"),
                "--access-logformat",
                "%(p)s %(s)s %(m)s %(U)s",
            ]
        self._start(
            "web",
            [
                str(BIN / "gunicorn"),
                "monitor.wsgi",
                "-b",
                f"127.0.0.1:{self.port}",
                "-w",
                str(self.web_workers),
                "--timeout",
                "120",
                *log,
            ],
        )
        wait_for(lambda: self._healthy(), 30, "gunicorn")

    def _healthy(self) -> bool:
        try:
            return httpx.get(self.url + "/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def start_worker(self, concurrency: int = 2) -> None:
        self._start(
            "worker",
            [
                str(BIN / "celery"),
                "-A",
                "monitor",
                "worker",
                "-l",
                "info",
                "-c",
                str(concurrency),
                "--without-gossip",
                "--without-mingle",
                "-n",
                f"w{uuid.uuid4().hex[:6]}@%h",
            ],
        )
        wait_for(lambda: b"ready." in (self.tmp / "worker.log").read_bytes(), 30, "celery worker")

    def stop(self, name: str, sig=signal.SIGTERM) -> None:
        proc = self.procs.pop(name, None)
        if proc is None:
            return
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
        if name == "worker":
            # Keep the log of a stopped worker apart from the next one's "ready." line.
            log = self.tmp / "worker.log"
            log.rename(self.tmp / f"worker-{time.monotonic_ns()}.log")

    def celery_call(self, task: str, *args) -> None:
        out = subprocess.run(
            [str(BIN / "celery"), "-A", "monitor", "call", task, "--args", json.dumps(list(args))],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert out.returncode == 0, out.stderr

    # -- setup -----------------------------------------------------------------------------
    def up(self, *, worker: bool = True, access_log: bool = False) -> "Stack":
        if self.mode == "postgres":
            self.start_redis()
        self.manage("migrate", "--noinput", "-v", "0")
        self.token = self.manage("createsource", "shop", "gateway").strip().splitlines()[-1]
        self.manage("demo", "--project", "shop", "--username", "ops", "--password", "pw-ops-1")
        self.api_key = self.manage("drf_create_token", "ops").split()[2]
        self.start_web(access_log=access_log)
        if worker and self.mode == "postgres":
            self.start_worker()
        return self

    def down(self) -> None:
        for name in list(self.procs):
            self.stop(name, signal.SIGKILL if name == "redis" else signal.SIGTERM)
        if self.mode == "postgres":
            with psycopg.connect(self.pg_admin_url, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.dbname}" WITH (FORCE)')

    # -- talking to it ---------------------------------------------------------------------
    def ingest(self, records: list[dict], *, timeout: float = 60) -> httpx.Response:
        body = gzip.compress("\n".join(json.dumps(r) for r in records).encode())
        return httpx.post(
            self.url + "/ingest/v1/logs?format=native",
            content=body,
            headers={
                "Authorization": f"Bearer {self.token}",
                "Content-Type": "application/x-ndjson",
                "Content-Encoding": "gzip",
            },
            timeout=timeout,
        )

    def api(self, path: str, **params) -> dict | list:
        response = httpx.get(
            f"{self.url}/api/v1/projects/shop/{path}",
            params=params,
            headers={"Authorization": f"Token {self.api_key}"},
            timeout=30,
        )
        assert response.status_code == 200, response.text
        return response.json()

    def sql(self, query: str, *args):
        if self.mode == "postgres":
            with psycopg.connect(self.db_url) as conn:
                return conn.execute(query, args).fetchall()
        import sqlite3

        with sqlite3.connect(self.tmp / "stack.sqlite3") as conn:
            return conn.execute(query.replace("%s", "?"), args).fetchall()

    def pending_batches(self) -> int:
        return self.sql("SELECT count(*) FROM ingest_ingestbatch WHERE status = 'pending'")[0][0]

    def wait_aggregated(self, timeout: float = 60) -> None:
        wait_for(lambda: self.pending_batches() == 0, timeout, "batches to be aggregated", 0.2)
