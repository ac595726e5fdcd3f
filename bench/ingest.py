"""Ingest benchmark: HTTP ingest rows/s against a raw psycopg COPY of the same rows, the lag
from an ingest answer to its rollup being visible, and the Celery worker's peak RSS.

Real processes on this machine: gunicorn (4 workers), a Celery worker, Redis, Postgres.
    .venv/bin/python bench/ingest.py [--batches 120] [--clients 4]
Figures are printed; nothing passes or fails on time.
"""

import argparse
import json
import os
import queue
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "monitor.settings")

import django  # noqa: E402

django.setup()

from ingest.normalize import normalize  # noqa: E402
from ingest.storage import COLUMNS, _rows  # noqa: E402
from monitor.demo.simulation import Simulator  # noqa: E402
from tests.stack.stack import Stack, wait_for  # noqa: E402

BATCH = 1000


def make_batches(count: int) -> list[list[dict]]:
    sim = Simulator(seed=11, orders=5000)
    start = datetime.now(UTC) - timedelta(hours=6)
    records = sim.traffic(start, 6 * 3600, (count * BATCH) / (6 * 3600) * 0.97)
    records = records[: count * BATCH]
    return [records[i : i + BATCH] for i in range(0, len(records), BATCH)]


def encode(batch: list[dict]) -> bytes:
    return "\n".join(json.dumps(r) for r in batch).encode()


def http_ingest(stack: Stack, bodies: list[bytes], clients: int) -> tuple[float, int]:
    work: queue.Queue = queue.Queue()
    for body in bodies:
        work.put(body)
    accepted = [0] * clients
    errors: list[str] = []

    def client(i: int) -> None:
        with httpx.Client(timeout=120) as http:
            while True:
                try:
                    body = work.get_nowait()
                except queue.Empty:
                    return
                response = http.post(
                    stack.url + "/ingest/v1/logs?format=native",
                    content=body,
                    headers={
                        "Authorization": f"Bearer {stack.token}",
                        "Content-Type": "application/x-ndjson",
                    },
                )
                if response.status_code != 200:
                    errors.append(response.text[:200])
                    return
                accepted[i] += response.json()["accepted"]

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise SystemExit(f"ingest failed: {errors[0]}")
    return elapsed, sum(accepted)


def raw_copy(stack: Stack, batches: list[list[dict]]) -> tuple[float, int]:
    """The baseline: the same rows, already normalized, COPYed by psycopg into a table shaped
    and indexed like the raw request table."""
    rows = []
    for i, batch in enumerate(batches):
        records = [normalize(r) for r in batch]
        endpoints = {(r.method, r.route): 1 for r in records}
        rows.extend(_rows(1, i + 1, records, endpoints))
    cols = ", ".join(COLUMNS)
    with psycopg.connect(stack.db_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS bench_copy (LIKE ingest_request INCLUDING ALL)")
        started = time.perf_counter()
        for start in range(0, len(rows), BATCH):
            with (
                conn.transaction(),
                conn.cursor().copy(f"COPY bench_copy ({cols}) FROM STDIN") as copy,
            ):
                for row in rows[start : start + BATCH]:
                    copy.write_row(row)
        elapsed = time.perf_counter() - started
    return elapsed, len(rows)


def rollup_total(stack: Stack) -> int:
    return stack.sql("SELECT coalesce(sum(n), 0) FROM monitor_rollup_status_minute")[0][0]


def rollup_lag(stack: Stack, bodies: list[bytes], pause: float) -> list[float]:
    lags = []
    with httpx.Client(timeout=60) as http:
        for body in bodies:
            before = rollup_total(stack)
            response = http.post(
                stack.url + "/ingest/v1/logs?format=native",
                content=body,
                headers={
                    "Authorization": f"Bearer {stack.token}",
                    "Content-Type": "application/x-ndjson",
                },
            )
            answered = time.perf_counter()
            target = before + response.json()["accepted"]
            wait_for(lambda t=target: rollup_total(stack) >= t, 60, "rollup", 0.01)
            lags.append(time.perf_counter() - answered)
            time.sleep(pause)
    return lags


def worker_peak_rss_kib(stack: Stack) -> tuple[int, int]:
    """(largest single process, sum) of VmHWM over the worker's process group."""
    pgid = stack.procs["worker"].pid
    peaks = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            if os.getpgid(int(pid)) != pgid:
                continue
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peaks.append(int(line.split()[1]))
        except (OSError, ProcessLookupError):
            continue
    return max(peaks), sum(peaks)


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=160, help="1,000-record batches to post")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--lag-batches", type=int, default=40)
    args = parser.parse_args()

    batches = make_batches(args.batches + args.lag_batches)
    bodies = [encode(b) for b in batches]
    with tempfile.TemporaryDirectory() as tmp:
        stack = Stack("postgres", Path(tmp), web_workers=4)
        try:
            stack.up()
            print(
                f"machine: {os.cpu_count()} cores; {args.batches} batches of {BATCH} records, "
                f"{args.clients} concurrent clients, gunicorn 4 workers, 1 Celery worker (2 procs)"
            )
            # Rounds of HTTP ingest (aggregation paused) and raw COPY of the same rows,
            # alternated so that both see the same machine load and table sizes.
            rounds = 3
            size = args.batches // (rounds + 1)
            stack.stop("worker")
            ratios = []
            for r in range(rounds):
                part = slice(r * size, (r + 1) * size)
                http_s, http_rows = http_ingest(stack, bodies[part], args.clients)
                copy_s, copy_rows = raw_copy(stack, batches[part])
                http_rate, copy_rate = http_rows / http_s, copy_rows / copy_s
                ratios.append(http_rate / copy_rate)
                print(
                    f"round {r + 1}: HTTP ingest {http_rate:>8,.0f} rows/s, raw psycopg COPY "
                    f"{copy_rate:>8,.0f} rows/s = {ratios[-1]:.2f} x raw COPY"
                )
            print(
                f"HTTP ingest (aggregation paused): median {statistics.median(ratios):.2f} x raw COPY"
            )
            # The same with the worker aggregating alongside (on 2 cores it takes their CPU).
            stack.start_worker()
            stack.wait_aggregated(timeout=600)
            part = slice(rounds * size, args.batches)
            busy_s, busy_rows = http_ingest(stack, bodies[part], args.clients)
            copy_s, copy_rows = raw_copy(stack, batches[part])
            busy_ratio = (busy_rows / busy_s) / (copy_rows / copy_s)
            print(
                f"HTTP ingest (aggregation running): {busy_rows / busy_s:,.0f} rows/s "
                f"= {busy_ratio:.2f} x raw COPY"
            )
            stack.wait_aggregated(timeout=600)
            print("target: HTTP ingest >= 0.5 x raw COPY")
            lags = rollup_lag(stack, bodies[args.batches :], pause=0.5)
            print(
                f"rollup lag  : p50 {pct(lags, 50) * 1000:.0f} ms, p95 {pct(lags, 95) * 1000:.0f} ms "
                f"over {len(lags)} batches (answer -> rollup visible; target p95 < 5 s)"
            )
            peak, total = worker_peak_rss_kib(stack)
            print(
                f"worker RSS  : peak {peak / 1024:.0f} MiB in one process, "
                f"{total / 1024:.0f} MiB over the worker's processes"
            )
        finally:
            stack.down()


if __name__ == "__main__":
    main()
