"""Read API latency at scale: p95 of summary/, timeseries/?interval=1m over 24 h and the first
page of requests/, against a dedicated Postgres database holding --rows raw rows.

    .venv/bin/python bench/api.py                 # 1,000,000 rows (a few minutes)
    .venv/bin/python bench/api.py --rows 10000000 # the figure in docs/architecture.md
    .venv/bin/python bench/api.py --reuse         # keep the loaded database, time again

Rows are synthetic (eight endpoints, every conflict cause, five clients) spread evenly over
--days days up to now, loaded with COPY; their rollups are added with the same upserts
aggregation uses (monitor/rollups.py). Calls go through the whole Django stack in-process (token
auth, middleware, serialization). Figures are printed in ms and as a ratio to a baseline measured
in the same run: GET /api/v1/projects/, the fixed cost of an authenticated API call.
"""

import argparse
import os
import random
import statistics
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SERVER = "postgres://postgres@127.0.0.1:5432"
DB = "conflictwatch_bench_api"
CHUNK = 200_000

# (method, route, path template, weight, status weights)
ENDPOINTS = [
    ("GET", "/v1/orders/{id}", "/v1/orders/{n}", 45, {200: 97, 404: 3}),
    ("GET", "/v1/orders", "/v1/orders", 15, {200: 98, 500: 2}),
    ("GET", "/v1/customers/{id}", "/v1/customers/{n}", 8, {200: 90, 404: 10}),
    ("PUT", "/v1/orders/{id}", "/v1/orders/{n}", 12, {200: 88, 412: 6, 409: 6}),
    ("PATCH", "/v1/orders/{id}", "/v1/orders/{n}", 5, {200: 90, 409: 10}),
    ("POST", "/v1/orders", "/v1/orders", 10, {201: 94, 409: 6}),
    ("DELETE", "/v1/orders/{id}", "/v1/orders/{n}", 2, {204: 90, 428: 10}),
    ("POST", "/v1/payments", "/v1/payments", 3, {201: 93, 409: 5, 423: 2}),
]
CAUSE = {
    ("PUT", 409): "lock",
    ("PUT", 412): "stale_version",
    ("PATCH", 409): "concurrent_write",
    ("POST", 409): "duplicate",
    ("DELETE", 428): "missing_precondition",
    ("POST", 423): "lock",
}
CLIENTS = ["acme-mobile", "billing-svc", "web-frontend", "inventory-sync", "partner-gw"]
COLUMNS = (
    "project_id, endpoint_id, dedup_key, ts, method, path, route, status, host, duration_ms, "
    "client, request_id, request_headers, response_headers, resource, cause, cause_reason"
)


def prepare_database(reuse: bool) -> None:
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DB]).fetchone()
        if exists and not reuse:
            conn.execute(f"DROP DATABASE {DB} WITH (FORCE)")
        if not exists or not reuse:
            conn.execute(f"CREATE DATABASE {DB}")


def load(rows: int, days: int) -> None:
    from django.db import connection, transaction

    from monitor import rollups
    from monitor.latency import bucket_for
    from monitor.models import Endpoint, Project

    project = Project.objects.create(slug="bench", name="Bench")
    endpoints = [
        Endpoint.objects.create(project=project, method=m, route=r) for m, r, *_ in ENDPOINTS
    ]
    weights = [w for *_, w, _ in ENDPOINTS]
    rng = random.Random(1)
    end = datetime.now(UTC)
    start = end - timedelta(days=days)
    step = (end - start) / rows
    started = time.perf_counter()
    for first in range(0, rows, CHUNK):
        count = min(CHUNK, rows - first)
        picks = rng.choices(range(len(ENDPOINTS)), weights, k=count)
        status_counts: dict = {}
        latency_counts: Counter = Counter()
        with transaction.atomic(), connection.cursor() as cursor:
            with cursor.cursor.copy(f"COPY ingest_request ({COLUMNS}) FROM STDIN") as copy:
                for offset, e in enumerate(picks):
                    i = first + offset
                    method, route, template, _, statuses = ENDPOINTS[e]
                    status = rng.choices(list(statuses), list(statuses.values()))[0]
                    ts = start + step * i
                    path = template.format(n=rng.randint(1, 5000))
                    duration = round(rng.lognormvariate(3, 0.6), 3)
                    cause = CAUSE.get((method, status)) or (
                        "unknown" if status in (409, 412, 423, 428) else None
                    )
                    copy.write_row(
                        (
                            project.id,
                            endpoints[e].id,
                            f"{i:x}",
                            ts,
                            method,
                            path,
                            route,
                            status,
                            "api.shop.example",
                            duration,
                            CLIENTS[i % len(CLIENTS)],
                            f"r-{i}",
                            "{}",
                            "{}",
                            path,
                            cause,
                            "bench" if cause else None,
                        )
                    )
                    minute = ts.replace(second=0, microsecond=0)
                    write = method != "GET"
                    key = (project.id, minute, endpoints[e].id, status, cause or "")
                    n, dsum, writes, cond = status_counts.get(key, (0, 0.0, 0, 0))
                    status_counts[key] = (n + 1, dsum + duration, writes + write, cond)
                    latency_counts[(project.id, minute, endpoints[e].id, bucket_for(duration))] += 1
            rollups.add("monitor_rollup_status_minute", status_counts)
            rollups.add(
                "monitor_rollup_latency_minute", {k: (n,) for k, n in latency_counts.items()}
            )
        done = first + count
        rate = done / (time.perf_counter() - started)
        print(f"  loaded {done:>11,} rows ({rate:,.0f} rows/s)", flush=True)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def p95(client, url: str, calls: int) -> float:
    timings = []
    for _ in range(calls + 3):
        t0 = time.perf_counter()
        response = client.get(url)
        timings.append((time.perf_counter() - t0) * 1000)
        assert response.status_code == 200, (url, response.status_code, response.content[:300])
    timings = sorted(timings[3:])  # the first calls warm caches and connections
    return statistics.quantiles(timings, n=20)[18] if len(timings) >= 20 else max(timings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=7, help="span the rows cover, up to now")
    parser.add_argument("--calls", type=int, default=60, help="timed calls per URL")
    parser.add_argument("--reuse", action="store_true", help="keep an already loaded database")
    args = parser.parse_args()

    prepare_database(args.reuse)
    os.environ["DATABASE_URL"] = f"{SERVER}/{DB}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "monitor.settings")
    os.environ["CONFLICTWATCH_API_RATE"] = ""
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.test import Client
    from rest_framework.authtoken.models import Token

    from ingest.models import Request
    from monitor.models import Project

    call_command("migrate", verbosity=0)
    if not Project.objects.filter(slug="bench").exists():
        print(f"loading {args.rows:,} rows over {args.days} days into {DB} …")
        load(args.rows, args.days)
    total = Request.objects.count()
    user, _ = get_user_model().objects.get_or_create(username="bench", is_superuser=True)
    client = Client(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
    api = "/api/v1/projects/bench/"
    day = total * 1 // args.days
    print(f"\n{total:,} raw rows ({day:,} in the last 24 h); p95 of {args.calls} calls each:")
    base = p95(client, "/api/v1/projects/", args.calls)
    print(f"  {'baseline GET /api/v1/projects/':<52} {base:7.1f} ms")
    for label, url in [
        ("summary/ (24 h)", api + "summary/"),
        ("timeseries/?interval=1m (24 h)", api + "timeseries/?interval=1m&from=-24h"),
        (
            "timeseries/?interval=1m&group=status (24 h)",
            api + "timeseries/?interval=1m&group=status",
        ),
        (
            "timeseries/?metric=p95_ms&interval=1m (24 h)",
            api + "timeseries/?metric=p95_ms&interval=1m",
        ),
        ("endpoints/ (24 h)", api + "endpoints/"),
        ("requests/ first page (50 rows)", api + "requests/"),
        ("requests/?status=409 first page", api + "requests/?status=409"),
    ]:
        ms = p95(client, url, args.calls)
        print(f"  {label:<52} {ms:7.1f} ms = {ms / base:5.1f} x baseline")


if __name__ == "__main__":
    main()
