"""Conflict-intelligence benchmark.

1. offenders/ and hotspots/ for the last 24 h over `--rows` raw rows: one hour of simulated
   traffic goes through the real pipeline (store, aggregate), then is copied to the other 23
   hours with its rollups in SQL (INSERT … SELECT), and both queries are timed.
2. Aggregation throughput with classification and outcome tracking against aggregation without
   them (`aggregate_batch(..., analysis=False)`: every conflict counted as `unknown` in the
   status, client and resource rollups, and no race or retry lookups, no write-back, no outcome
   or race rollups), on the same simulated batches stored twice (two projects), alternated
   batch by batch in the same run, on top of the table that part 1 filled (statistics
   analysed, as autovacuum keeps them on a live system), after a few untimed batches.

Runs in a database of its own on the machine's Postgres, dropped at the end:
    .venv/bin/python bench/conflicts.py [--batches 30] [--rows 1000000]
Figures are printed; nothing passes or fails on time.
"""

import argparse
import os
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from scratch_database import scratch_database

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

BATCH = 1000


def store(project, records: list[dict]) -> int:
    from ingest.normalize import normalize
    from ingest.storage import store_records

    return store_records(project, None, [normalize(r) for r in records]).batch_id


WARM_UP = 5


def throughput(batches: int) -> None:
    from django.db import connection

    from monitor.demo.simulation import Simulator
    from monitor.models import Project
    from monitor.pipeline.aggregate import aggregate_batch

    with_analysis = Project.objects.create(slug="analysed", name="analysed")
    baseline = Project.objects.create(slug="baseline", name="baseline")
    sim = Simulator(seed=5, orders=2000)
    start = datetime.now(UTC) - timedelta(hours=3)
    rate = 20.0
    span = BATCH / rate
    times = {True: [], False: []}
    conflicts = 0
    for i in range(-WARM_UP, batches):
        if i == 0:
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
        records = sim.traffic(start + timedelta(seconds=(i + WARM_UP) * span), span, rate)[:BATCH]
        ids = {True: store(with_analysis, records), False: store(baseline, records)}
        order = (True, False) if i % 2 else (False, True)
        for analysis in order:
            began = time.perf_counter()
            assert aggregate_batch(ids[analysis], analysis=analysis)
            if i >= 0:
                times[analysis].append(time.perf_counter() - began)
        if i >= 0:
            conflicts += sum(1 for r in records if r["status"] in (409, 412, 423, 428))
    rows = batches * BATCH
    on, off = sum(times[True]), sum(times[False])
    print(
        f"{batches} batches of {BATCH:,} rows per side ({conflicts / rows:.1%} conflicts), "
        f"after {WARM_UP} untimed"
    )
    print(f"aggregation without classification and outcomes: {rows / off:9,.0f} rows/s")
    print(f"aggregation with them                          : {rows / on:9,.0f} rows/s")
    print(
        f"throughput with them = {off / on:.2f} x without "
        f"(median batch {statistics.median(times[True]) * 1000:.1f} ms vs "
        f"{statistics.median(times[False]) * 1000:.1f} ms)"
    )


def load_day(rows: int) -> None:
    """One hour through the pipeline, then 23 copies of it (raw rows and rollups) in SQL."""
    from django.db import connection

    from ingest import partitions
    from monitor.demo.simulation import Simulator
    from monitor.models import Project
    from monitor.pipeline.aggregate import aggregate_batch
    from monitor.pipeline.retention import MINUTE_TABLES

    project = Project.objects.create(slug="day", name="day")
    end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    hour0 = end - timedelta(hours=1)
    per_hour = rows // 24
    sim = Simulator(seed=9, orders=5000, track_truth=False)
    began = time.perf_counter()
    chunk_seconds = 60
    done = 0
    t = hour0
    while t < end:
        records = sim.traffic(t, chunk_seconds, per_hour / 3600)
        for i in range(0, len(records), BATCH * 5):
            aggregate_batch(store(project, records[i : i + BATCH * 5]))
        done += len(records)
        t += timedelta(seconds=chunk_seconds)
    print(f"hour 0: {done:,} rows stored and aggregated in {time.perf_counter() - began:.0f} s")
    began = time.perf_counter()
    raw_cols = [
        f.column for f in project.request_set.model._meta.concrete_fields if f.column not in ("id",)
    ]
    # The copies reach back 23 hours: create the day partitions they land in.
    partitions.ensure({(hour0 - timedelta(hours=k)).date() for k in range(24)})
    with connection.cursor() as cursor:
        for k in range(1, 24):
            shift = f"interval '{k} hours'"
            select = ", ".join(
                f"ts - {shift}"
                if c == "ts"
                else f"left(dedup_key, 29) || '-{k:02d}'"
                if c == "dedup_key"
                else c
                for c in raw_cols
            )
            cursor.execute(
                f"INSERT INTO ingest_request ({', '.join(raw_cols)}) SELECT {select} "
                "FROM ingest_request WHERE project_id = %s AND ts >= %s AND ts < %s",
                [project.id, hour0, end],
            )
            for table in MINUTE_TABLES:
                cursor.execute(
                    "SELECT column_name FROM information_schema.columns "
                    "WHERE table_name = %s AND column_name <> 'id'",
                    [table],
                )
                cols = [c for (c,) in cursor.fetchall()]
                sel = ", ".join(f"minute - {shift}" if c == "minute" else c for c in cols)
                cursor.execute(
                    f"INSERT INTO {table} ({', '.join(cols)}) SELECT {sel} FROM {table} "
                    "WHERE project_id = %s AND minute >= %s AND minute < %s",
                    [project.id, hour0, end],
                )
        cursor.execute("SELECT count(*) FROM ingest_request WHERE project_id = %s", [project.id])
        total = cursor.fetchone()[0]
    with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    print(f"copied to 24 h: {total:,} raw rows in {time.perf_counter() - began:.0f} s")


def time_queries() -> None:
    from monitor.models import ClientRollup, Project, ResourceRollup
    from monitor.reads import conflicts
    from monitor.reads.timerange import TimeRange

    project = Project.objects.get(slug="day")
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    rng = TimeRange(now - timedelta(hours=24), now)
    print(
        f"rollup rows: {ClientRollup.objects.filter(project=project).count():,} client, "
        f"{ResourceRollup.objects.filter(project=project).count():,} resource"
    )
    for name, call in (
        ("offenders", lambda: conflicts.offenders(project, rng)),
        ("hotspots", lambda: conflicts.hotspots(project, rng)),
        (
            "offenders + hotspots",
            lambda: (
                conflicts.offenders(project, rng),
                conflicts.hotspots(project, rng),
            ),
        ),
    ):
        call()  # warm
        runs = []
        for _ in range(7):
            began = time.perf_counter()
            call()
            runs.append((time.perf_counter() - began) * 1000)
        print(f"{name:22}: median {statistics.median(runs):6.1f} ms, max {max(runs):6.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--batches", type=int, default=30, help="batches of 1,000 per side (0: skip)"
    )
    parser.add_argument("--rows", type=int, default=1_000_000, help="raw rows over 24 h")
    args = parser.parse_args()
    with scratch_database("cw_bench_conflicts"):
        load_day(args.rows)
        time_queries()
        if args.batches:
            throughput(args.batches)


if __name__ == "__main__":
    main()
