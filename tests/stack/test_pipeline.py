"""End to end over HTTP on real processes: counts are exact, and nothing is lost or doubled
when batches are resent, aggregated twice, or their worker or broker dies."""

import signal
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

from ingest.routes import derive_route
from monitor.demo.simulation import Simulator
from tests.stack.stack import wait_for

WINDOW = {"from": "-2h", "to": "now"}


def simulated(minutes: float = 10, rate: float = 20, seed: int = 7) -> list[dict]:
    start = datetime.now(UTC) - timedelta(minutes=30)
    return Simulator(seed=seed).traffic(start, minutes * 60, rate)


def expected_counts(records: list[dict]) -> Counter:
    return Counter(
        (r["method"].upper(), r.get("route") or derive_route(r["path"]), r["status"])
        for r in records
    )


def counts_from_api(stack) -> Counter:
    counts = Counter()
    for ep in stack.api("endpoints/", **WINDOW):
        for status, n in ep["by_status"].items():
            counts[(ep["method"], ep["route"], int(status))] += n
    return counts


def test_it_counts_every_record_exactly_per_endpoint_and_status(stack):
    records = simulated()
    for start in range(0, len(records), 1000):
        response = stack.ingest(records[start : start + 1000])
        assert response.status_code == 200, response.text
        assert response.json()["rejected"] == 0
    stack.wait_aggregated()
    assert counts_from_api(stack) == expected_counts(records)
    summary = stack.api("summary/", **WINDOW)
    assert summary["requests"] == len(records)
    by_status = Counter(str(r["status"]) for r in records)
    assert summary["by_status"] == dict(by_status)
    conflicts = sum(n for s, n in by_status.items() if s in {"409", "412", "423", "428"})
    assert summary["conflicts"] == conflicts


def test_a_batch_posted_twice_is_counted_once(stack):
    records = simulated(minutes=2)
    first = stack.ingest(records).json()
    second = stack.ingest(records).json()
    assert first["accepted"] == len(records)
    assert second == {"accepted": 0, "duplicates": len(records), "rejected": 0, "errors": []}
    stack.wait_aggregated()
    assert stack.api("summary/", **WINDOW)["requests"] == len(records)
    assert stack.sql("SELECT count(*) FROM ingest_request")[0][0] == len(records)


def queue_drained(stack) -> bool:
    """No task waiting in Redis nor delivered and unacknowledged."""
    import redis

    r = redis.Redis(port=stack.redis_port)
    return r.llen("celery") == 0 and r.hlen("unacked") == 0


def test_aggregating_one_batch_twice_counts_it_once(pg_stack):
    stack = pg_stack
    stack.stop("worker")
    records = simulated(minutes=2)
    assert stack.ingest(records).status_code == 200
    (batch_id,) = stack.sql("SELECT id FROM ingest_ingestbatch WHERE status = 'pending'")[0]
    # Two more deliveries of the same batch, on top of the one ingest enqueued.
    stack.celery_call("monitor.tasks.aggregate_batch", batch_id)
    stack.celery_call("monitor.tasks.aggregate_batch", batch_id)
    stack.start_worker(concurrency=3)
    stack.wait_aggregated()
    wait_for(lambda: queue_drained(stack), 30, "the queue to drain")
    assert stack.api("summary/", **WINDOW)["requests"] == len(records)
    assert counts_from_api(stack) == expected_counts(records)


def test_workers_aggregate_batches_of_one_project_side_by_side(pg_stack):
    stack = pg_stack
    stack.stop("worker")
    records = simulated(minutes=6)
    for start in range(0, len(records), 500):
        assert stack.ingest(records[start : start + 500]).status_code == 200
    stack.start_worker(concurrency=3)
    # No sweep runs here: every batch must be taken by the task ingest enqueued for it.
    stack.wait_aggregated(timeout=60)
    assert stack.api("summary/", **WINDOW)["requests"] == len(records)


def test_a_worker_killed_mid_batch_loses_and_doubles_nothing(pg_stack):
    stack = pg_stack
    stack.stop("worker")
    records = simulated(minutes=25, rate=15)  # a batch big enough to take a while
    response = stack.ingest(records, timeout=120)
    assert response.json()["accepted"] == len(records)
    stack.start_worker(concurrency=1)

    def batch_locked() -> bool:
        # FOR UPDATE on the batch row shows as a row-share lock held by the worker.
        return bool(
            stack.sql(
                "SELECT 1 FROM pg_locks l JOIN pg_class c ON l.relation = c.oid "
                "WHERE c.relname = 'ingest_ingestbatch' AND l.mode = 'RowShareLock' "
                "AND l.pid <> pg_backend_pid()"
            )
        )

    wait_for(batch_locked, 30, "the worker to start on the batch", 0.005)
    stack.stop("worker", signal.SIGKILL)
    time.sleep(0.5)
    assert stack.pending_batches() == 1
    assert stack.sql("SELECT coalesce(sum(n), 0) FROM monitor_rollup_status_minute")[0][0] == 0

    stack.start_worker(concurrency=1)
    stack.celery_call("monitor.tasks.sweep_pending_batches")
    stack.wait_aggregated(timeout=120)
    assert stack.api("summary/", **WINDOW)["requests"] == len(records)
    assert counts_from_api(stack) == expected_counts(records)


def test_ingest_answers_with_the_broker_down_and_the_sweep_catches_up(pg_stack):
    stack = pg_stack
    stack.stop("redis", signal.SIGKILL)
    records = simulated(minutes=2)
    started = time.monotonic()
    response = stack.ingest(records)
    elapsed = time.monotonic() - started
    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == len(records)
    assert elapsed < 15, f"ingest took {elapsed:.1f}s with the broker down"
    assert stack.pending_batches() == 1

    stack.start_redis()
    time.sleep(1.5)  # older than CONFLICTWATCH_SWEEP_AFTER_SECONDS
    stack.celery_call("monitor.tasks.sweep_pending_batches")
    stack.wait_aggregated(timeout=90)
    assert stack.api("summary/", **WINDOW)["requests"] == len(records)
