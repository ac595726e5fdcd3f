"""A worker's aggregation that Postgres aborts to break a deadlock (with a backfill, or here
with a transaction of the test's own) is queued again within seconds: the batch is counted
without waiting for the sweep, which does not run in this deployment."""

import time

import psycopg

from tests.monitor.conflict_records import rec
from tests.monitor.locks import WAITING_ON_A_LOCK
from tests.stack.stack import wait_for


def waiting_on_a_lock(stack) -> bool:
    return stack.sql(WAITING_ON_A_LOCK)[0][0] > 0


def test_a_batch_aborted_by_a_deadlock_is_aggregated_again_by_the_worker(pg_stack):
    stack = pg_stack
    # Client a's stale write, aggregated: a stored conflict that a's next write reopens.
    assert stack.ingest([rec(0, "PUT", "/v1/orders/1", 409, "a")]).status_code == 200
    stack.wait_aggregated()
    ((earlier,),) = stack.sql("SELECT id FROM ingest_request WHERE client = 'a'")
    # The next batch, left pending: a's retry, and a conflict of its own (a higher id).
    stack.stop("worker")
    batch = [rec(5, "PUT", "/v1/orders/1", 200, "a"), rec(6, "PUT", "/v1/orders/2", 409, "b")]
    assert stack.ingest(batch).status_code == 200
    ((batch_id, own),) = stack.sql("SELECT batch_id, id FROM ingest_request WHERE client = 'b'")
    assert earlier < own

    # Another transaction holds the batch's own conflict; the worker, which locks in id order,
    # takes the stored one and waits for it; then the other asks for the stored one: a
    # deadlock, which Postgres breaks by aborting the worker's transaction (it waited first).
    with psycopg.connect(stack.db_url) as other:
        other.execute("SELECT 1 FROM ingest_request WHERE id = %s FOR NO KEY UPDATE", [own])
        stack.start_worker(concurrency=1)
        wait_for(lambda: waiting_on_a_lock(stack), 30, "the worker to wait on the lock", 0.02)
        other.execute("SELECT 1 FROM ingest_request WHERE id = %s FOR NO KEY UPDATE", [earlier])
        other.rollback()
    aborted = time.monotonic()

    wait_for(lambda: stack.pending_batches() == 0, 20, "the worker to aggregate it again")
    assert time.monotonic() - aborted < 20
    ((status, attempts, error),) = stack.sql(
        "SELECT status, attempts, error FROM ingest_ingestbatch WHERE id = %s", batch_id
    )
    assert (status, attempts) == ("done", 1)
    assert "deadlock" in error
    assert stack.sql("SELECT cause IS NOT NULL FROM ingest_request WHERE id = %s", own) == [(True,)]
    assert stack.api("summary/", **{"from": "-2h", "to": "now"})["requests"] == 3
