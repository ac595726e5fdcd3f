"""The synthetic dataset of the read benchmarks (bench/api.py, bench/scale.py): a project with
eight endpoints, every conflict cause and five clients; raw rows loaded with COPY and their
rollups added with the same upserts aggregation uses.
"""

import random
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import psycopg

SERVER = "postgres://postgres@127.0.0.1:5432"
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


def prepare_database(db: str, reuse: bool) -> None:
    """A dedicated benchmark database: dropped and created again unless `reuse`."""
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [db]).fetchone()
        if exists and not reuse:
            conn.execute(f"DROP DATABASE {db} WITH (FORCE)")
        if not exists or not reuse:
            conn.execute(f"CREATE DATABASE {db}")


def load(rows: int, days: int, chunk: int = CHUNK) -> None:
    """`rows` synthetic raw rows spread evenly over `days` days up to now, written with COPY
    in transactions of `chunk` rows, each with its rollups added by the aggregation's upserts
    (monitor/pipeline/rollups.py: minute, hour and day). Partitions are created first on Postgres."""
    from django.db import connection, transaction

    from ingest import partitions
    from monitor.models import Endpoint, Project
    from monitor.pipeline import rollups
    from monitor.rules.latency import bucket_for

    project = Project.objects.create(slug="bench", name="Bench")
    endpoints = [
        Endpoint.objects.create(project=project, method=m, route=r) for m, r, *_ in ENDPOINTS
    ]
    weights = [w for *_, w, _ in ENDPOINTS]
    rng = random.Random(1)
    end = datetime.now(UTC)
    start = end - timedelta(days=days)
    step = (end - start) / rows
    partitions.ensure((start + timedelta(days=d)).date() for d in range(days + 2))
    started = time.perf_counter()
    for first in range(0, rows, chunk):
        count = min(chunk, rows - first)
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
