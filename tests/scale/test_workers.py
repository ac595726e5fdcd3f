"""Four worker processes aggregate one stream of batches: no count lost or doubled at any grain,
and no deadlock (acceptance 3). Batches overlap in time, so every worker adds to the same
minute, hour and day rows at once; keys written in one order keep them from deadlocking."""

import pytest

from tests.stack.stack import Stack, wait_for
from tests.stack.test_pipeline import (
    WINDOW,
    counts_from_api,
    expected_counts,
    queue_drained,
    simulated,
)

pytestmark = pytest.mark.stack


@pytest.fixture
def pg_stack(tmp_path):
    running = Stack("postgres", tmp_path).up()
    yield running
    running.down()


def test_four_worker_processes_count_a_stream_of_batches_exactly_once(pg_stack):
    stack = pg_stack
    stack.stop("worker")
    records = simulated(minutes=8, rate=25, seed=21)
    # Small interleaved batches: each covers the whole time span, so all of them touch the
    # same rollup rows; every batch is sent twice.
    batches = [records[i::60] for i in range(60)]
    for batch in batches + batches[::-1]:
        assert stack.ingest(batch).status_code == 200
    stack.start_worker(concurrency=4)
    stack.wait_aggregated(timeout=180)
    wait_for(lambda: queue_drained(stack), 60, "the queue to drain")
    assert stack.api("summary/", **WINDOW)["requests"] == len(records)
    assert counts_from_api(stack) == expected_counts(records)
    sums = [
        stack.sql(f"SELECT coalesce(sum(n), 0) FROM monitor_rollup_status_{grain}")[0][0]
        for grain in ("minute", "hour", "day")
    ]
    assert sums == [len(records)] * 3
    logs = b"".join(p.read_bytes() for p in stack.tmp.glob("worker*.log"))
    assert b"deadlock" not in logs.lower()
    assert b"ready." in logs
    assert b"Traceback" not in logs
    assert stack.sql("SELECT count(*) FROM ingest_ingestbatch WHERE status <> 'done'")[0][0] == 0
