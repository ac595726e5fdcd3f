"""A backfill dense with conflicts and live ingest on the same resources at once: how long a live
batch's aggregation takes while the backfill runs, against the same kind of live batch on the
same data once the backfill has finished, measured in the same run.

A backfill aggregates its stored batches together, and every conflict one such aggregation
analyses stays locked until it commits: a live batch deciding conflicts on the same resources
waits for it. The backfill holds `--conflicts-every` conflicts per aggregation at most (the
product's default, ingest/backfill.py: CONFLICTS_EVERY); with `--compare`, the same backfill
is run again with no such bound (an aggregation every AGGREGATE_EVERY records only), for the
difference.

    .venv/bin/python bench/backfill_live.py [--records 24000] [--compare]

Runs in a database of its own on the machine's Postgres, dropped at the end. The backfill runs
in a process of its own (as `importlog` does: a reading process, aggregation apart), the live
batches of 50 records in this one, stored and aggregated one after another as a Celery worker
would. Figures are printed; nothing passes or fails on time.
"""

import argparse
import io
import json
import multiprocessing
import os
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from scratch_database import scratch_database

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

LIVE_BATCH = 50
AFTER = 20  # live batches timed once the backfill has finished
START = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
RESOURCES = 8
CLIENTS = 5
# (method, its statuses): two writes in three, and two of their answers in four conflicts.
TRAFFIC = [
    ("GET", (200, 304)),
    ("PUT", (200, 204, 409, 412)),
    ("PUT", (200, 204, 409, 412)),
    ("PATCH", (200, 409, 412, 428)),
    ("POST", (201, 201, 409, 409)),
    ("DELETE", (204, 409)),
]


def records(count: int, seed: int, tag: str) -> list[dict]:
    """`count` requests by a few clients to a few orders over one hour: a hot spot where
    races, retries and stale writes meet whichever stream brings them."""
    rng = random.Random(seed)
    out = []
    for i in range(count):
        method, statuses = rng.choice(TRAFFIC)
        order = rng.randrange(1, RESOURCES + 1)
        headers = {"if-match": f'"v{order}.{rng.randrange(3)}"'} if rng.random() < 0.4 else {}
        out.append(
            {
                "ts": (START + timedelta(seconds=rng.random() * 3600)).isoformat(),
                "method": method,
                "path": "/v1/orders" if method == "POST" else f"/v1/orders/{order}",
                "status": rng.choice(statuses),
                "client": f"client-{rng.randrange(CLIENTS)}",
                "request_id": f"{tag}-{i}",
                "duration_ms": rng.uniform(1, 500),
                "request_headers": headers if method in ("PUT", "PATCH") else {},
            }
        )
    return out


def live_batch(project, seed: int, lost: list | None = None) -> float:
    """Store one live batch and aggregate it; the aggregation's seconds. An aggregation that
    Postgres aborts in a deadlock with the backfill's is run again at once (a Celery worker
    queues it again after a second or more), counted in `lost`."""
    from ingest.normalize import normalize
    from ingest.storage import store_records
    from monitor.pipeline.aggregate import aggregate_batch, lost_a_race

    batch = [normalize(r) for r in records(LIVE_BATCH, seed, f"live{seed}")]
    batch_id = store_records(project, None, batch, aggregate=False).batch_id
    started = time.perf_counter()
    while True:
        try:
            assert aggregate_batch(batch_id)
            return time.perf_counter() - started
        except Exception as exc:
            if lost is None or not lost_a_race(exc):
                raise
            lost.append(batch_id)


def run_backfill(project_id: int, data: bytes, conflicts_every: int, done) -> None:
    """The backfill's process: `importlog`'s path, the aggregation bounded as asked."""
    from ingest.backfill import backfill
    from monitor.models import Project

    started = time.perf_counter()
    summary = backfill(
        Project.objects.get(pk=project_id),
        io.BytesIO(data),
        None,
        parallel=True,
        rereadable=True,
        conflicts_every=conflicts_every,
    )
    done.put((summary.accepted, time.perf_counter() - started))


def alongside(slug: str, data: bytes, conflicts_every: int, seed: int) -> dict:
    """Live batches aggregated one after another while the backfill runs."""
    from django.db import connections

    from monitor.models import Project
    from monitor.pipeline.aggregate import sweep_pending

    project = Project.objects.create(slug=slug, name=slug)
    connections.close_all()
    context = multiprocessing.get_context("fork")
    done = context.Queue()
    backfill = context.Process(target=run_backfill, args=(project.id, data, conflicts_every, done))
    backfill.start()
    times, lost = [], []
    while backfill.is_alive():
        times.append(live_batch(project, seed, lost))
        seed += 1
        time.sleep(0.2)
    backfill.join()
    if backfill.exitcode:
        raise SystemExit(f"the backfill failed ({backfill.exitcode})")
    accepted, seconds = done.get()
    # Batches whose aggregation together lost a deadlock were queued one by one, for a worker
    # or the sweep: here the sweep takes them, as beat runs it every minute.
    left = sweep_pending(timedelta(0))
    # The same data, nothing else running: what a live batch takes without waiting.
    after = statistics.median(live_batch(project, seed + i) for i in range(AFTER))
    return {
        "times": times,
        "accepted": accepted,
        "seconds": seconds,
        "after": after,
        "lost": len(lost),
        "left": left,
    }


def report(label: str, run: dict) -> None:
    times, after = sorted(run["times"]), run["after"]
    p95 = times[min(len(times) - 1, int(0.95 * len(times)))]
    print(
        f"{label}: backfill {run['accepted']:,} records in {run['seconds']:.1f} s "
        f"({run['accepted'] / run['seconds']:,.0f}/s); {len(times)} live batches aggregated "
        f"meanwhile: p50 {statistics.median(times) * 1000:,.0f} ms, p95 {p95 * 1000:,.0f} ms, "
        f"longest {times[-1] * 1000:,.0f} ms = {times[-1] / after:.1f} x a live batch "
        f"once the backfill has finished ({after * 1000:,.0f} ms, median of {AFTER}); "
        f"deadlocks: {run['lost']} live aggregations ran again, {run['left']} backfill batches "
        "left to the sweep"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=24_000, help="records of the backfill")
    parser.add_argument(
        "--conflicts-every",
        type=int,
        help="conflicts per aggregation of the backfill (default: the product's)",
    )
    parser.add_argument(
        "--compare", action="store_true", help="run it again with no bound on the conflicts"
    )
    args = parser.parse_args()
    with scratch_database("cw_bench_backfill_live"):
        from ingest.backfill import CONFLICTS_EVERY

        bound = args.conflicts_every or CONFLICTS_EVERY
        # In time order, as a log is written.
        backfill = sorted(records(args.records, 7, "bf"), key=lambda r: r["ts"])
        data = "".join(json.dumps(r) + "\n" for r in backfill).encode()
        conflicts = sum(data.count(f'"status": {s}'.encode()) for s in (409, 412, 428))
        print(
            f"machine: {os.cpu_count()} cores; a backfill of {args.records:,} records "
            f"({conflicts:,} conflicts on {RESOURCES} resources by {CLIENTS} clients over one "
            "hour), live batches of "
            f"{LIVE_BATCH} records on the same resources and hour"
        )
        report(
            f"at most {bound:,} conflicts per aggregation",
            alongside("bounded", data, bound, 20_000),
        )
        if args.compare:
            report("no bound on the conflicts", alongside("unbounded", data, 10**9, 40_000))


if __name__ == "__main__":
    main()
