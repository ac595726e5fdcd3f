"""What keeping the p95 per minute adds to aggregation: the rollup write of one batch (status,
latency and client counts at every grain, in the pipeline, as `Counts.write` does) with and
without the p95 rows' lock and recompute (monitor/pipeline/p95_minutes.py), on the same batch,
alternated, each in a transaction rolled back, against a database loaded by bench/api.py.

    BENCH_DATABASE=conflictwatch_bench_api .venv/bin/python bench/p95_minutes.py [--batches 50]

Two batch shapes: 1,000 rows over 2 minutes (live traffic) and over 60 minutes (a backfill),
written on the latest minutes of the loaded data, whose histograms are full. Figures are
printed (medians, the first five pairs left out); nothing passes or fails on time.
"""

import argparse
import math
import os
import random
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.dataset import SERVER  # noqa: E402


class RolledBack(Exception):
    pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batches", type=int, default=50, help="batches per shape")
    args = parser.parse_args()
    os.environ["DATABASE_URL"] = (
        f"{SERVER}/{os.environ.get('BENCH_DATABASE', 'conflictwatch_bench_api')}"
    )
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "monitor.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import transaction

    from monitor.models import Endpoint, Project, ProjectLatencyRollup
    from monitor.pipeline import p95_minutes
    from monitor.pipeline.counts import Counts

    call_command("migrate", verbosity=0)
    project = Project.objects.get(slug="bench")
    endpoints = list(Endpoint.objects.filter(project=project).values_list("id", flat=True))
    last = (
        ProjectLatencyRollup.objects.filter(project=project)
        .order_by("-minute")
        .values_list("minute", flat=True)
        .first()
    )
    rnd = random.Random(22)

    def batch(n: int, minutes: int) -> list[dict]:
        return [
            {
                "id": i,
                "ts": last - timedelta(seconds=rnd.uniform(0, 60 * minutes)),
                "endpoint_id": rnd.choice(endpoints),
                "status": rnd.choice([200, 200, 200, 201, 404, 409]),
                "duration_ms": rnd.lognormvariate(math.log(40), 0.8),
                "method": rnd.choice(["GET", "GET", "POST", "PUT"]),
                "conditional": False,
                "weak": False,
                "keyed": True,
                "client": rnd.choice(["a", "b", "c", "d", "e"]),
            }
            for i in range(n)
        ]

    hold, refresh = p95_minutes.hold, p95_minutes.refresh

    def write(rows: list[dict], keep: bool) -> float:
        p95_minutes.hold = hold if keep else (lambda keys: None)
        p95_minutes.refresh = refresh if keep else (lambda keys: None)
        t0 = time.perf_counter()
        try:
            with transaction.atomic():
                counts = Counts(project.id)
                counts.requests(rows, {})
                counts.write()
                raise RolledBack
        except RolledBack:
            pass
        return (time.perf_counter() - t0) * 1000

    for n, minutes in [(1000, 2), (1000, 60)]:
        timings: dict[bool, list[float]] = {True: [], False: []}
        for i in range(args.batches):
            rows = batch(n, minutes)
            for keep in (True, False) if i % 2 else (False, True):
                timings[keep].append(write(rows, keep))
        with_, without = (statistics.median(timings[k][5:]) for k in (True, False))
        print(
            f"{n:,} rows over {minutes} min: rollup write {without:.1f} ms without the p95, "
            f"{with_:.1f} ms with it (+{with_ - without:.1f} ms = {with_ / without:.3f} x)"
        )


if __name__ == "__main__":
    main()
