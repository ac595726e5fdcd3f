"""A month of traffic: page and API latency over --rows raw rows spread over 30 days, and
aggregation throughput with 1, 2 and 4 worker processes.

    .venv/bin/python bench/scale.py                  # 3,000,000 rows (a few minutes)
    .venv/bin/python bench/scale.py --rows 50000000  # the issue's size (about an hour to load)
    .venv/bin/python bench/scale.py --reuse          # keep the loaded database, time again

(BENCH_DATABASE names another database than the default one, e.g. to keep two loaded.)

Rows come from bench/dataset.py (COPY into the daily partitions, rollups at every grain added
with the aggregation's upserts: status, latency and the conflict analysis's client, outcome,
resource and race-pair rollups). Offenders, hotspots and the p95 series over 30 days are
printed apart too: their target is under 100 ms. Pages and API calls go through the whole Django stack
in-process. Latency is printed in ms and as a ratio to a baseline measured in the same run
(GET /api/v1/projects/); the target is under 150 ms for each.

Aggregation: --batches pending batches of --batch-size rows each (one hour of traffic, every
batch spread over the whole hour so that all workers add to the same rollup rows) are
aggregated by N processes calling monitor.pipeline.aggregate.aggregate_batch, as Celery's prefork
workers do; throughput is printed as rows/s and as a ratio to one process.
"""

import argparse
import gc
import multiprocessing
import os
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.dataset import CLIENTS, ENDPOINTS, SERVER, load, prepare_database  # noqa: E402

DB = "conflictwatch_bench_scale"
# The reads whose target is under 100 ms at 50 million rows (offenders and hotspots read hour
# and day rollups of the conflict analysis; the p95 series is cut in the database).
UNDER_100_MS = {
    "offenders/ 30 d",
    "hotspots/ 30 d",
    "timeseries/ 30 d metric=p95_ms (1h)",
}
DAYS = 30


def setup_django() -> None:
    os.environ["DATABASE_URL"] = f"{SERVER}/{os.environ.get('BENCH_DATABASE', DB)}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "monitor.settings")
    os.environ["CONFLICTWATCH_API_RATE"] = ""
    os.environ.pop("CELERY_BROKER_URL", None)
    import django

    django.setup()


def p95(client, url: str, calls: int) -> float:
    timings = []
    for _ in range(calls + 3):
        t0 = time.perf_counter()
        response = client.get(url)
        timings.append((time.perf_counter() - t0) * 1000)
        assert response.status_code == 200, (url, response.status_code, response.content[:300])
    timings = sorted(timings[3:])  # the first calls warm caches and connections
    return statistics.quantiles(timings, n=20)[18] if len(timings) >= 20 else max(timings)


def reads(calls: int) -> None:
    from django.contrib.auth import get_user_model
    from django.test import Client
    from rest_framework.authtoken.models import Token

    from monitor.models import Endpoint, Membership, Project

    project = Project.objects.get(slug="bench")
    user, _ = get_user_model().objects.get_or_create(username="bench", is_superuser=True)
    Membership.objects.get_or_create(project=project, user=user)
    api = Client(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
    pages = Client()
    pages.force_login(user)
    # As gunicorn's workers do (gunicorn.conf.py: post_worker_init).
    gc.collect()
    gc.freeze()
    busiest = Endpoint.objects.filter(project=project, method="GET").order_by("id").first()
    base = p95(api, "/api/v1/projects/", calls)
    timed: dict[str, float] = {}
    print(f"p95 of {calls} calls each (target under 150 ms):")
    print(f"  {'baseline GET /api/v1/projects/':<48} {base:7.1f} ms")
    ts = "/api/v1/projects/bench/timeseries/"
    for label, client, url in [
        ("overview page (24 h)", pages, "/p/bench/"),
        ("overview page (7 d)", pages, "/p/bench/?from=-7d"),
        ("overview page (30 d)", pages, "/p/bench/?from=-30d"),
        ("endpoint page (24 h)", pages, f"/p/bench/endpoints/{busiest.id}/"),
        ("endpoint page (7 d)", pages, f"/p/bench/endpoints/{busiest.id}/?from=-7d"),
        ("endpoint page (30 d)", pages, f"/p/bench/endpoints/{busiest.id}/?from=-30d"),
        ("timeseries/ 24 h (1m)", api, ts + "?from=-24h"),
        ("timeseries/ 7 d (1h)", api, ts + "?from=-7d"),
        ("timeseries/ 30 d (1h)", api, ts + "?from=-30d"),
        ("timeseries/ 30 d group=status (1d)", api, ts + "?from=-30d&interval=1d&group=status"),
        ("timeseries/ 30 d metric=p95_ms (1h)", api, ts + "?from=-30d&metric=p95_ms"),
        ("summary/ 30 d", api, "/api/v1/projects/bench/summary/?from=-30d"),
        ("endpoints/ 30 d", api, "/api/v1/projects/bench/endpoints/?from=-30d"),
        ("offenders/ 7 d", api, "/api/v1/projects/bench/offenders/?from=-7d"),
        ("offenders/ 30 d", api, "/api/v1/projects/bench/offenders/?from=-30d"),
        ("hotspots/ 7 d", api, "/api/v1/projects/bench/hotspots/?from=-7d"),
        ("hotspots/ 30 d", api, "/api/v1/projects/bench/hotspots/?from=-30d"),
    ]:
        ms = p95(client, url, calls)
        timed[label] = ms
        print(f"  {label:<48} {ms:7.1f} ms = {ms / base:5.1f} x baseline")
    print("target under 100 ms (offenders, hotspots, p95 series over 30 days):")
    for label in sorted(UNDER_100_MS):
        verdict = "under" if timed[label] < 100 else "OVER"
        print(f"  {label:<48} {timed[label]:7.1f} ms  {verdict} 100 ms")


def make_batches(count: int, size: int, seed: int) -> list[int]:
    """`count` pending batches of `size` rows each, all spread over the past hour."""
    from django.db import connection, transaction

    from ingest.models import IngestBatch
    from monitor.models import Endpoint, Project

    project = Project.objects.get(slug="bench")
    endpoints = {(e.method, e.route): e.id for e in Endpoint.objects.filter(project=project)}
    rng = random.Random(seed)
    weights = [w for *_, w, _ in ENDPOINTS]
    end = datetime.now(UTC).replace(second=0, microsecond=0)
    ids = []
    cols = (
        "project_id, batch_id, endpoint_id, dedup_key, ts, method, path, route, status, "
        "duration_ms, client, request_headers, response_headers, resource"
    )
    for b in range(count):
        with transaction.atomic(), connection.cursor() as cursor:
            batch = IngestBatch.objects.create(project=project, accepted=size)
            ids.append(batch.id)
            with cursor.cursor.copy(f"COPY ingest_request ({cols}) FROM STDIN") as copy:
                for i in range(size):
                    method, route, template, _, statuses = rng.choices(ENDPOINTS, weights)[0]
                    status = rng.choices(list(statuses), list(statuses.values()))[0]
                    path = template.format(n=rng.randint(1, 500))
                    copy.write_row(
                        (
                            project.id,
                            batch.id,
                            endpoints[(method, route)],
                            f"agg-{seed}-{b}-{i}",
                            end - timedelta(seconds=rng.uniform(0, 3600)),
                            method,
                            path,
                            route,
                            status,
                            rng.lognormvariate(3, 0.6),
                            rng.choice(CLIENTS),
                            "{}",
                            "{}",
                            path,
                        )
                    )
    return ids


def _worker(ids: list[int], start, counter) -> None:
    setup_django()
    from django.db import connection

    from monitor.pipeline.aggregate import aggregate_batch

    connection.ensure_connection()
    start.wait()
    done = 0
    for batch_id in ids:
        # Every process walks every batch, in its own order: the batch lock (SKIP LOCKED)
        # and the pending check decide who does each, as with Celery deliveries.
        done += aggregate_batch(batch_id)
    with counter.get_lock():
        counter.value += done


def aggregation(processes: int, batches: int, size: int, seed: int) -> float:
    ids = make_batches(batches, size, seed)
    from django.db import connections

    connections.close_all()
    ctx = multiprocessing.get_context("fork")
    start = ctx.Event()
    counter = ctx.Value("i", 0)
    procs = []
    for p in range(processes):
        order = ids[p::processes] + [i for i in ids if i not in ids[p::processes]]
        procs.append(ctx.Process(target=_worker, args=(order, start, counter)))
    for proc in procs:
        proc.start()
    time.sleep(2)  # let every process connect before the clock starts
    t0 = time.perf_counter()
    start.set()
    for proc in procs:
        proc.join()
    elapsed = time.perf_counter() - t0
    assert counter.value == batches, (counter.value, batches)
    return batches * size / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=3_000_000)
    parser.add_argument("--calls", type=int, default=40, help="timed calls per URL")
    parser.add_argument("--batches", type=int, default=40, help="batches per aggregation run")
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--reuse", action="store_true", help="keep an already loaded database")
    args = parser.parse_args()

    prepare_database(os.environ.get("BENCH_DATABASE", DB), args.reuse)
    setup_django()
    from django.core.management import call_command
    from django.db import connection

    from monitor.models import Project

    call_command("migrate", verbosity=0)
    if not Project.objects.filter(slug="bench").exists():
        print(
            f"loading {args.rows:,} rows over {DAYS} days into {os.environ.get('BENCH_DATABASE', DB)} …"
        )
        t0 = time.perf_counter()
        load(args.rows, DAYS)
        print(f"loaded in {time.perf_counter() - t0:,.0f} s")
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM ingest_request")
        total = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM monitor_rollup_latency_minute")
        minute_rows = cursor.fetchone()[0]
        rollup_rows = {}
        for kind in ("latency", "client", "resource"):
            for grain in ("minute", "hour", "day"):
                cursor.execute(f"SELECT count(*) FROM monitor_rollup_{kind}_{grain}")
                rollup_rows[f"{kind} {grain}"] = cursor.fetchone()[0]
    print(f"\n{total:,} raw rows over {DAYS} days; {minute_rows:,} minute latency rollup rows")
    print("rollup rows: " + ", ".join(f"{k} {n:,}" for k, n in rollup_rows.items()))
    reads(args.calls)

    print(f"\naggregation of {args.batches} batches x {args.batch_size} rows (one hour):")
    one = None
    for n, processes in enumerate((1, 2, 4)):
        rate = aggregation(processes, args.batches, args.batch_size, seed=100 + n)
        one = one or rate
        print(f"  {processes} process(es): {rate:9,.0f} rows/s = {rate / one:4.2f} x one")
    print(f"  (this machine has {os.cpu_count()} cores, shared with the database)")


if __name__ == "__main__":
    main()
