"""`make run` twice in a row: the second start sends only the history that is missing, so the
demo's traffic rate stays what it was; the port is the caller's choice. On Postgres, the demo
holds a bounded number of connections however long it runs."""

import os
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

from tests.stack.stack import PG_ADMIN_URL

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def env_for(db: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CELERY")}
    env["DATABASE_URL"] = f"sqlite:///{db}"
    env.pop("DJANGO_SETTINGS_MODULE", None)
    return env


def run_demo(env: dict, port: int, seconds: float) -> str:
    """Start rundemo, wait for its login lines, let it run, stop it; its output."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "manage.py",
            "rundemo",
            "--port",
            str(port),
            "--backfill",
            "6",
            "--rate",
            "4",
            "--password",
            "pw-demo",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines = []
    try:
        deadline = time.monotonic() + 240
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("password:") or time.monotonic() > deadline:
                break
        time.sleep(seconds)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
    return "".join(lines)


def per_minute(db: Path) -> Counter:
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT substr(ts, 1, 16) FROM ingest_request").fetchall()
    return Counter(minute for (minute,) in rows)


def test_a_second_start_sends_only_the_missing_history_on_the_port_asked(tmp_path):
    db = tmp_path / "demo.sqlite3"
    env = env_for(db)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=ROOT,
        env=env,
        check=True,
    )
    port = free_port()
    first = run_demo(env, port, 5)
    assert f"url: http://127.0.0.1:{port}/" in first
    stopped = datetime.now(UTC) - timedelta(minutes=1)
    before = per_minute(db)
    second = run_demo(env, free_port(), 5)
    assert "sending only what is missing" in second, second
    after = per_minute(db)
    # The minutes the first run filled (its first, partial one and the last ones, which the
    # live traffic of both runs shares, aside) got nothing more; before this fix the second
    # run sent its whole history again, doubling them.
    full = [m for m in sorted(before)[1:] if m < stopped.strftime("%Y-%m-%d %H:%M")]
    assert len(full) >= 4, before
    assert [after[m] for m in full] == [before[m] for m in full]
    usual = statistics.median(after[m] for m in full)
    assert max(after[m] for m in after if m <= max(full)) < 1.6 * usual


def test_make_run_passes_the_port_on():
    out = subprocess.run(
        ["make", "-n", "run", "PORT=8100"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert "rundemo --host 127.0.0.1 --port 8100" in out


def test_the_demo_on_postgres_holds_a_bounded_number_of_connections():
    # runserver answers each request in a thread of its own: a connection kept for reuse
    # (CONN_MAX_AGE) stayed open after its thread ended, about one every two seconds of demo
    # traffic, until Postgres refused new clients.
    name = f"cw_demo_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            env = {k: v for k, v in os.environ.items() if not k.startswith("CELERY")}
            env["DATABASE_URL"] = f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}"
            env.pop("DJANGO_SETTINGS_MODULE", None)
            subprocess.run(
                [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
                cwd=ROOT,
                env=env,
                check=True,
            )
            counts, done = [], threading.Event()

            def watch():
                while not done.wait(5):
                    counts.append(
                        admin.execute(
                            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s", [name]
                        ).fetchone()[0]
                    )

            watcher = threading.Thread(target=watch)
            watcher.start()
            try:
                run_demo(env, free_port(), 60)
            finally:
                done.set()
                watcher.join()
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    assert len(counts) >= 10, counts
    # The last sample may come after the demo stopped.
    assert max(counts[-6:-1]) <= 12, counts
