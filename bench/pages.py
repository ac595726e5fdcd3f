"""Dashboard page server time at scale: p95 of each page for the 24 h and 7 d ranges, with the
number of SQL queries per page, against a dedicated Postgres database holding --rows raw rows.

    .venv/bin/python bench/pages.py                  # 200,000 rows (a few minutes)
    .venv/bin/python bench/pages.py --rows 10000000  # the issue's size (long load)
    .venv/bin/python bench/pages.py --reuse          # keep the loaded database, time again
    .venv/bin/python bench/pages.py --db NAME        # another database (two sizes side by side)

Rows and their rollups come from the shared loader in bench/dataset.py (COPY, then the upserts
aggregation uses), the conflict analysis's client, outcome, resource and race-pair rollups
included, so offenders, hotspots and remedies are measured populated.
Pages go through the whole Django stack in-process with a signed-in superuser (sessions,
middleware, templates). Figures are ms and a ratio to a baseline measured in the same run:
the project list, the fixed cost of a signed-in page.
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

DB = "conflictwatch_bench_pages"


def timed(client, url: str, calls: int) -> tuple[float, int]:
    """(p95 ms, queries of one call) of `calls` GETs after three warm-up calls."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    timings = []
    for i in range(calls + 3):
        # The connection keeps its last 9,000 queries: counted from empty, every call's count is
        # its own (a full log counted 0 once enough pages had been timed).
        connection.queries_log.clear()
        with CaptureQueriesContext(connection) as ctx:
            t0 = time.perf_counter()
            response = client.get(url)
            elapsed = (time.perf_counter() - t0) * 1000
        assert response.status_code == 200, (url, response.status_code)
        if i >= 3:
            timings.append(elapsed)
        queries = len(ctx.captured_queries)
    timings.sort()
    p95 = statistics.quantiles(timings, n=20)[18] if len(timings) >= 20 else timings[-1]
    return p95, queries


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--days", type=int, default=7, help="span the rows cover, up to now")
    parser.add_argument("--calls", type=int, default=20, help="timed calls per page and range")
    parser.add_argument("--reuse", action="store_true", help="keep an already loaded database")
    parser.add_argument("--db", default=DB, help=f"the benchmark database (default {DB})")
    args = parser.parse_args()

    prepare_database(args.db, args.reuse)
    os.environ["DATABASE_URL"] = f"{SERVER}/{args.db}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "monitor.settings")
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.test import Client

    from ingest.models import Request
    from monitor.models import Endpoint, Project

    call_command("migrate", verbosity=0)
    if not Project.objects.filter(slug="bench").exists():
        print(f"loading {args.rows:,} rows over {args.days} days into {args.db} …")
        load(args.rows, args.days)
    total = Request.objects.count()
    user, _ = get_user_model().objects.get_or_create(
        username="bench-pages", defaults={"is_superuser": True}
    )
    client = Client()
    client.force_login(user)
    # As gunicorn's workers do (gunicorn.conf.py: post_worker_init): what was loaded before the
    # first request is out of the cycle collector's sight, so a full collection in a timed call
    # walks what requests made, not every module object.
    gc.collect()
    gc.freeze()
    ep = Endpoint.objects.get(project__slug="bench", method="PATCH").id
    row = Request.objects.filter(project__slug="bench", status=409).order_by("-ts").first()
    pages = [
        ("overview", "/p/bench/"),
        ("endpoint PATCH /v1/orders/{id}", f"/p/bench/endpoints/{ep}/"),
        ("request detail (a 409)", f"/p/bench/requests/{row.id}/"),
        ("explorer, first page", "/p/bench/requests/"),
        ("explorer ?status=409&method=PATCH", "/p/bench/requests/?status=409&method=PATCH"),
        ("explorer ?status=4xx", "/p/bench/requests/?status=4xx"),
        ("explorer ?conflicts=1", "/p/bench/requests/?conflicts=1"),
        ("explorer ?client=…&conflicts=1", f"/p/bench/requests/?client={row.client}&conflicts=1"),
        ("client page", f"/p/bench/client/?c={row.client}"),
        ("resource page", f"/p/bench/resource/?r={row.resource}"),
    ]
    # Pages without a time range, timed once. The loader stores no ingest batches, so a poll
    # of the tail finds nothing new here: it times the lookup, not rendering new rows.
    unranged = [
        ("live tail, first load", "/p/bench/tail/"),
        ("live tail, one poll", "/p/bench/tail/rows/?cursor=0&conflicts=1"),
    ]
    print(f"\n{total:,} raw rows over {args.days} days; p95 of {args.calls} calls each:")
    base, base_q = timed(client, "/accounts/login/", args.calls)
    print(f"  {'baseline: sign-in page':<40} {base:7.1f} ms  {base_q:3d} queries")
    unranged.insert(0, ("project list (cards of the last 24 h)", "/"))
    for label, url in pages:
        for rng in ("24h", "7d"):
            sep = "&" if "?" in url else "?"
            ms, queries = timed(client, f"{url}{sep}range={rng}", args.calls)
            print(
                f"  {label + ' (' + rng + ')':<40} {ms:7.1f} ms  {queries:3d} queries"
                f"  = {ms / base:5.1f} x baseline",
                flush=True,
            )
    for label, url in unranged:
        ms, queries = timed(client, url, args.calls)
        print(
            f"  {label:<40} {ms:7.1f} ms  {queries:3d} queries  = {ms / base:5.1f} x baseline",
            flush=True,
        )


if __name__ == "__main__":
    main()
