"""importlog benchmark: `manage.py importlog` end to end (parsed, stored, indexed and aggregated)
against GoAccess (Debian's `goaccess`, which parses and counts in memory) on the same generated
nginx `combined` file, in the same run: lines/s and peak RSS of each, and their ratios.

    .venv/bin/python bench/importlog.py [--lines 1000000] [--runs 1]

A fresh Postgres database (127.0.0.1:5432, user postgres), no Celery broker: importlog's
batches are aggregated in its own process as each one commits, so when the command returns
every line is stored and counted in the rollups. Figures are printed; nothing passes or fails
on time. Target: importlog >= 1.0 x GoAccess lines/s, RSS <= 0.33 x GoAccess's.

It also prints two floors that no import can go below on this machine, against the same
GoAccess run: Postgres alone writing the rows importlog stored (`INSERT ... SELECT` into an
empty table with the raw table's columns and indexes: no parsing, no network, no rollups), and
the peak RSS of a Python process that has only set Django up with the product's settings.
"""

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[1]
PG = os.environ.get("CONFLICTWATCH_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")

ROUTES = [
    ("GET", "/v1/orders/{}", 30),
    ("GET", "/v1/orders", 10),
    ("POST", "/v1/orders", 8),
    ("PUT", "/v1/orders/{}", 8),
    ("PATCH", "/v1/orders/{}", 3),
    ("DELETE", "/v1/orders/{}", 1),
    ("GET", "/v1/customers/{}", 10),
    ("PUT", "/v1/customers/{}", 3),
    ("GET", "/v1/products/{}", 12),
    ("PUT", "/v1/products/{}/stock", 4),
    ("POST", "/v1/payments", 3),
    ("GET", "/static/app.{}.js", 5),
    ("GET", "/healthz", 3),
]
AGENTS = [
    "okhttp/4.9.3",
    "python-requests/2.31.0",
    "curl/8.4.0",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
    "Go-http-client/1.1",
]
REFERERS = ["-", "-", "-", "https://shop.example.com/", "https://shop.example.com/cart"]


def write_log(path: Path, count: int, seed: int = 7) -> None:
    """`count` combined lines over the last hours, in time order (as nginx writes them)."""
    rng = random.Random(seed)
    weights = [w for _, _, w in ROUTES]
    end = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    span = max(3600, count // 50)
    start = end - timedelta(seconds=span)
    ips = [
        f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}" for _ in range(5000)
    ]
    with path.open("w") as out:
        for i in range(count):
            method, route, _ = rng.choices(ROUTES, weights)[0]
            target = route.format(rng.randrange(1, 40000)) if "{}" in route else route
            if rng.random() < 0.05:
                target += f"?expand=items&trace={uuid.UUID(int=rng.getrandbits(128)).hex[:8]}"
            x = rng.random()
            if method in ("PUT", "PATCH", "POST", "DELETE"):
                status = 409 if x < 0.06 else 412 if x < 0.07 else 400 if x < 0.08 else 200
            else:
                status = 404 if x < 0.01 else 500 if x < 0.012 else 304 if x < 0.03 else 200
            ts = start + timedelta(seconds=span * i / count)
            out.write(
                f"{rng.choice(ips)} - - [{ts.strftime('%d/%b/%Y:%H:%M:%S +0000')}] "
                f'"{method} {target} HTTP/1.1" {status} {rng.randrange(80, 20000)} '
                f'"{rng.choice(REFERERS)}" "{rng.choice(AGENTS)}"\n'
            )


def timed(cmd: list[str], env: dict | None = None) -> tuple[float, int, str]:
    """Wall seconds, peak RSS (KiB) of the process (the largest of it and its children), and
    its output."""
    started = time.perf_counter()
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        text = out.read().decode(errors="replace")
    if proc.returncode:
        raise SystemExit(f"{cmd[0]} failed ({proc.returncode}):\n{text[-2000:]}")
    return elapsed, usage.ru_maxrss, text


def goaccess(log: Path, tmp: Path) -> tuple[float, int]:
    seconds, rss, _ = timed(
        [
            shutil.which("goaccess") or "goaccess",
            str(log),
            "--log-format=COMBINED",
            "--no-global-config",
            "--no-progress",
            "-o",
            str(tmp / "report.json"),
        ]
    )
    return seconds, rss


def product_env(db_url: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "CELERY_"))}
    env.update(DATABASE_URL=db_url, DJANGO_SETTINGS_MODULE="monitor.settings", DEBUG="0")
    env["SECRET_KEY"] = "bench-importlog"
    return env


def importlog(log: Path, db_url: str, batch_size: int) -> tuple[float, int, str]:
    env = product_env(db_url)
    py = sys.executable
    subprocess.run(
        [py, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True
    )
    seconds, rss, out = timed(
        [
            py,
            "manage.py",
            "importlog",
            str(log),
            "--project",
            "bench",
            "--format",
            "nginx",
            "--batch-size",
            str(batch_size),
        ],
        env,
    )
    return seconds, rss, out.strip().splitlines()[-1]


def storage_floor(db_url: str) -> float:
    """Seconds Postgres takes to write the stored raw rows again into an empty table with the
    raw table's columns and indexes (`LIKE ... INCLUDING ALL`), in one statement."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE floor_request (LIKE ingest_request INCLUDING ALL)")
        conn.execute("CHECKPOINT")
        started = time.perf_counter()
        conn.execute("INSERT INTO floor_request SELECT * FROM ingest_request")
        return time.perf_counter() - started


def django_floor(env: dict) -> int:
    """Peak RSS (KiB) of a Python process that only sets Django up with the product's
    settings."""
    _, rss, _ = timed([sys.executable, "-c", "import django; django.setup()"], env)
    return rss


def fresh_database() -> str:
    name = f"cw_bench_importlog_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return name


def drop_database(name: str) -> None:
    with psycopg.connect(PG, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def check_stored(db_url: str, lines: int) -> str:
    with psycopg.connect(db_url) as conn:
        raw = conn.execute("SELECT count(*) FROM ingest_request").fetchone()[0]
        counted = conn.execute(
            "SELECT coalesce(sum(n), 0) FROM monitor_rollup_status_minute"
        ).fetchone()[0]
        pending = conn.execute(
            "SELECT count(*) FROM ingest_ingestbatch WHERE status = 'pending'"
        ).fetchone()[0]
    problem = []
    if raw != lines:
        problem.append(f"{raw:,} raw rows")
    if counted != lines:
        problem.append(f"{counted:,} counted in the rollups")
    if pending:
        problem.append(f"{pending} batches pending")
    return "; ".join(problem)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=1000, help="importlog's --batch-size")
    args = parser.parse_args()
    if not shutil.which("goaccess"):
        raise SystemExit("goaccess is not installed (Debian package goaccess)")
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        log = tmp / "access.log"
        write_log(log, args.lines)
        print(
            f"machine: {os.cpu_count()} cores; {args.lines:,} nginx combined lines, "
            f"{log.stat().st_size / 2**20:.0f} MiB"
        )
        speed, memory, floor_speed, floor_memory = [], [], [], []
        for run in range(1, args.runs + 1):
            go_s, go_rss = goaccess(log, tmp)
            db = fresh_database()
            try:
                db_url = PG.rsplit("/", 1)[0] + "/" + db
                cw_s, cw_rss, summary = importlog(log, db_url, args.batch_size)
                problem = check_stored(db_url, args.lines)
                floor_s = storage_floor(db_url)
                floor_rss = django_floor(product_env(db_url))
            finally:
                drop_database(db)
            speed.append(go_s / cw_s)
            memory.append(cw_rss / go_rss)
            print(
                f"run {run}: GoAccess {args.lines / go_s:>9,.0f} lines/s, {go_rss / 1024:.0f} MiB; "
                f"importlog {args.lines / cw_s:>9,.0f} lines/s, {cw_rss / 1024:.0f} MiB "
                f"= {speed[-1]:.2f} x lines/s, {memory[-1]:.2f} x RSS"
            )
            print(f"       {summary}")
            floor_speed.append(go_s / floor_s)
            floor_memory.append(floor_rss / go_rss)
            print(
                f"       floors: Postgres alone writing the stored rows {args.lines / floor_s:,.0f} "
                f"rows/s = {floor_speed[-1]:.2f} x GoAccess; Django set up "
                f"{floor_rss / 1024:.0f} MiB = {floor_memory[-1]:.2f} x its RSS"
            )
            if problem:
                raise SystemExit(f"importlog did not store and count every line: {problem}")
        print(
            f"importlog end to end: median {statistics.median(speed):.2f} x GoAccess lines/s "
            f"(target >= 1.0), {statistics.median(memory):.2f} x its RSS (target <= 0.33)"
        )
        print(
            f"floors: Postgres alone writing the rows {statistics.median(floor_speed):.2f} x "
            f"GoAccess lines/s; Django set up {statistics.median(floor_memory):.2f} x its RSS"
        )


if __name__ == "__main__":
    main()
