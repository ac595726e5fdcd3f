"""A backfill (`importlog`, whose batches are aggregated together in long transactions) and
live HTTP ingest (aggregated batch by batch by a Celery worker with two processes) on the same
project, resources, clients and hour at once: both lock the stored conflicts their analyses
decide. Whatever the interleaving, every record is stored once, every batch ends aggregated,
and every rollup agrees with the raw rows."""

import json
import random
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta

from tests.stack.stack import ROOT, wait_for

T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
SPAN = 3600.0


def records(count: int, seed: int, tag: str) -> list[dict]:
    """Writes, conflicts and reads by five clients on eight orders over one hour: races,
    retries and stale writes on the same rows whichever stream brings them."""
    rng = random.Random(seed)
    out = []
    for i in range(count):
        method = rng.choice(["GET", "PUT", "PUT", "PATCH", "POST", "DELETE"])
        path = "/v1/orders" if method == "POST" else f"/v1/orders/{rng.randrange(1, 9)}"
        status = rng.choice([200, 304]) if method == "GET" else rng.choice([200, 201, 409, 412])
        record = {
            "ts": (T0 + timedelta(seconds=rng.uniform(0, SPAN))).isoformat(timespec="milliseconds"),
            "method": method,
            "path": path,
            "status": status,
            "client": f"c{rng.randrange(5)}",
            "request_id": f"{tag}-{i}",
            "duration_ms": round(rng.uniform(1, 500), 3),
        }
        if method in ("PUT", "PATCH") and rng.random() < 0.5:
            record["request_headers"] = {"if-match": f'"v{rng.randrange(3)}"'}
        if status == 409 and rng.random() < 0.5:
            record["response_body"] = rng.choice(["version mismatch", "already exists"])
        out.append(record)
    return out


def aggregated(stack) -> bool:
    """Whether no batch is pending; else run the sweep, as beat does every minute: a batch whose
    aggregation Postgres chose to abort in a deadlock with the backfill is left to it."""
    if stack.pending_batches() == 0:
        return True
    stack.celery_call("monitor.tasks.sweep_pending_batches")
    return False


def status_counts(stack, table: str) -> dict:
    return {
        (status, cause): n
        for status, cause, n in stack.sql(
            f"SELECT r.status, r.cause, sum(r.n) FROM {table} r JOIN monitor_project p "
            "ON p.id = r.project_id WHERE p.slug = 'shop' GROUP BY 1, 2"
        )
    }


def test_a_backfill_and_live_ingest_on_the_same_resources_count_every_record_once(
    pg_stack, tmp_path
):
    stack = pg_stack
    (before,) = stack.sql("SELECT count(*) FROM ingest_request")[0]
    backfilled = records(24_000, seed=5, tag="file")
    live = records(6_000, seed=6, tag="http")
    log = tmp_path / "access.ndjson"
    log.write_text("".join(json.dumps(r) + "\n" for r in backfilled))

    # importlog aggregates once 500 conflicts are stored, here every three batches of 500,
    # each time in one transaction of three lock statements, beside the worker's.
    importlog = subprocess.Popen(
        [
            sys.executable,
            "manage.py",
            "importlog",
            str(log),
            "--project",
            "shop",
            "--batch-size",
            "500",
        ],
        cwd=ROOT,
        env=stack.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    answers: list[int] = []

    def post(part: list[dict]) -> None:
        for start in range(0, len(part), 100):
            answers.append(stack.ingest(part[start : start + 100]).status_code)

    threads = [threading.Thread(target=post, args=(live[i::2],)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    out, err = importlog.communicate(timeout=600)
    assert importlog.returncode == 0, err
    assert answers == [200] * 60
    wait_for(lambda: aggregated(stack), 300, "every batch aggregated", interval=5)

    assert stack.sql("SELECT status, count(*) FROM ingest_ingestbatch GROUP BY 1") == [
        ("done", stack.sql("SELECT count(*) FROM ingest_ingestbatch")[0][0])
    ]
    (stored,) = stack.sql("SELECT count(*) FROM ingest_request")[0]
    assert stored - before == len(backfilled) + len(live)
    (undecided,) = stack.sql(
        "SELECT count(*) FROM ingest_request WHERE status IN (409, 412) AND cause IS NULL"
    )[0]
    assert undecided == 0

    raw = {
        (status, cause or ""): n
        for status, cause, n in stack.sql(
            "SELECT r.status, r.cause, count(*) FROM ingest_request r JOIN monitor_project p "
            "ON p.id = r.project_id WHERE p.slug = 'shop' GROUP BY 1, 2"
        )
    }
    for grain in ("minute", "hour", "day"):
        assert status_counts(stack, f"monitor_rollup_status_{grain}") == raw, grain
    clients = stack.sql(
        "SELECT r.client, count(*), count(*) FILTER (WHERE r.status IN (409, 412)) "
        "FROM ingest_request r JOIN monitor_project p ON p.id = r.project_id "
        "WHERE p.slug = 'shop' GROUP BY 1 ORDER BY 1"
    )
    for grain in ("minute", "hour", "day"):
        rolled = stack.sql(
            f"SELECT r.client, sum(r.requests), sum(r.conflicts) FROM monitor_rollup_client_{grain}"
            " r JOIN monitor_project p ON p.id = r.project_id WHERE p.slug = 'shop' "
            "GROUP BY 1 ORDER BY 1"
        )
        assert rolled == clients, grain
