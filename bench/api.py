"""Read API latency at scale: p95 of summary/, timeseries/?interval=1m over 24 h and the first
page of requests/, against a dedicated Postgres database holding --rows raw rows.

    .venv/bin/python bench/api.py                 # 1,000,000 rows (a few minutes)
    .venv/bin/python bench/api.py --rows 10000000 # the figure in docs/architecture.md
    .venv/bin/python bench/api.py --reuse         # keep the loaded database, time again

(BENCH_DATABASE names another database than the default one, e.g. to keep two loaded.)

Rows are synthetic (eight endpoints, every conflict cause, five clients) spread evenly over
--days days up to now, loaded with COPY; their rollups are added with the same upserts
aggregation uses (monitor/pipeline/rollups.py). Calls go through the whole Django stack in-process (token
auth, middleware, serialization). Figures are printed in ms and as a ratio to a baseline measured
in the same run: GET /api/v1/projects/, the fixed cost of an authenticated API call.
"""

import argparse
import gc
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.dataset import SERVER, load, prepare_database  # noqa: E402

DB = "conflictwatch_bench_api"


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

    db = os.environ.get("BENCH_DATABASE", DB)
    prepare_database(db, args.reuse)
    os.environ["DATABASE_URL"] = f"{SERVER}/{db}"
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
        print(f"loading {args.rows:,} rows over {args.days} days into {db} …")
        load(args.rows, args.days)
    total = Request.objects.count()
    user, _ = get_user_model().objects.get_or_create(username="bench", is_superuser=True)
    client = Client(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
    # As gunicorn's workers do (gunicorn.conf.py: post_worker_init).
    gc.collect()
    gc.freeze()
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
