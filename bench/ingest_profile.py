"""Ingest CPU profile: the Python cost of one HTTP ingest request, per record, in-process.

Posts 1,000-record NDJSON bodies of native records (bench/ingest.py's simulated traffic)
through Django's test client to
POST /ingest/v1/logs on the database DATABASE_URL names (migrated here first), and prints
the wall time per record, the SQL statements per request and, with --profile, cProfile's top
functions. No Celery broker: aggregation is not enqueued, so the figure is the ingest path
alone. Less sensitive to a loaded machine than the HTTP benchmarks (one process, CPU time).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/<db> \\
        .venv/bin/python bench/ingest_profile.py [--batches 40] [--profile 30]
"""

import argparse
import cProfile
import os
import pstats
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "monitor.settings")
os.environ.pop("CELERY_BROKER_URL", None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=40, help="1,000-record bodies to post")
    parser.add_argument("--profile", type=int, default=0, help="print the top N functions")
    args = parser.parse_args()
    import django

    from bench.ingest import encode, make_batches

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    from ingest import storage
    from ingest.models import Request
    from ingest.sources import create_source

    call_command("migrate", verbosity=0)
    if connection.vendor == "postgresql":  # a fresh raw table each run, without dead rows
        with connection.cursor() as cursor:
            cursor.execute(f"TRUNCATE {Request._meta.db_table}")
    else:
        Request.objects.all().delete()
    _, token = create_source("profile", f"profile-{os.getpid()}", "native", rotate=True)
    storage.enqueue_aggregation = lambda batch_id: None
    bodies = [encode(batch) for batch in make_batches(args.batches + 3)]
    client = Client()
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"}

    def post(body: bytes) -> None:
        response = client.post(
            "/ingest/v1/logs", body, content_type="application/x-ndjson", **headers
        )
        assert response.status_code == 200, response.content[:300]
        assert response.json()["accepted"] == 1000, response.content[:300]

    for body in bodies[:2]:  # warm: caches, prepared statements, partitions
        post(body)
    queries: list[tuple[float, str]] = []

    def timed(execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            queries.append((time.perf_counter() - started, sql))

    with connection.execute_wrapper(timed):
        post(bodies[2])
    profiler = cProfile.Profile() if args.profile else None
    walls: list[float] = []
    cpus: list[float] = []
    for body in bodies[3:]:
        started, cpu_started = time.perf_counter(), time.process_time()
        if profiler:
            profiler.enable()
        post(body)
        if profiler:
            profiler.disable()
        walls.append((time.perf_counter() - started) / 1000 * 1e6)
        cpus.append((time.process_time() - cpu_started) / 1000 * 1e6)
    print(
        f"{args.batches} requests of 1,000 records, µs per record (median, best): "
        f"CPU of this process {statistics.median(cpus):.1f}, {min(cpus):.1f}; "
        f"wall {statistics.median(walls):.1f}, {min(walls):.1f}"
        + (" (under cProfile)" if profiler else "")
    )
    print(f"SQL statements per request (ms each; COPY not counted): {len(queries)}")
    for seconds, sql in queries:
        print(f"  {seconds * 1000:6.1f}  {' '.join(sql.split())[:120]}")
    if profiler:
        pstats.Stats(profiler).sort_stats("tottime").print_stats(args.profile)


if __name__ == "__main__":
    main()
