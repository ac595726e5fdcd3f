"""A batch whose aggregation Postgres aborts to break a deadlock (another transaction, such as
a backfill's, holding one of the conflicts it locks while waiting for one it holds) lost a
race, not its data: it stays pending without using up one of its attempts, so the next run
(the sweep's) counts it, however often a long backfill crosses it."""

import threading
import time

import pytest
from django.db import OperationalError, connection, connections

from ingest.models import IngestBatch, Request
from ingest.normalize import normalize
from ingest.pipeline import Outcome, store
from monitor.pipeline.aggregate import RACE_RETRIES, aggregate_batch, race_retry_delay
from tests.monitor.conflict_records import rec
from tests.monitor.locks import waiting_on_a_lock

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("row locks and deadlock detection are Postgres's")


def stored(project, records: list[dict]) -> int:
    """Store the records as one batch, left pending."""
    outcome = store(project, None, [normalize(r) for r in records], Outcome(), aggregate=False)
    return outcome.batch_id


def lock_row(row_id: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM ingest_request WHERE id = %s FOR NO KEY UPDATE", [row_id])


def test_a_batch_aborted_by_a_deadlock_stays_pending_without_using_an_attempt(shop):
    # Client a's stale write, aggregated: a stored conflict its next write reopens.
    first = stored(shop, [rec(0, "PUT", "/v1/orders/1", 409, "a")])
    assert aggregate_batch(first)
    earlier = Request.objects.get(batch_id=first).id
    # The next batch: a's retry, and a conflict of its own (stored after, so a higher id).
    batch = stored(
        shop,
        [rec(5, "PUT", "/v1/orders/1", 200, "a"), rec(6, "PUT", "/v1/orders/2", 409, "b")],
    )
    own = Request.objects.get(batch_id=batch, status=409).id
    assert earlier < own

    # The other transaction holds the batch's own conflict, then asks for the stored one,
    # once the aggregation (which locks in id order) holds that one and waits for its own.
    holding, done = threading.Event(), threading.Event()

    def other_transaction() -> None:
        try:
            with connection.cursor() as cursor:
                cursor.execute("BEGIN")
                lock_row(own)
                holding.set()
                deadline = time.monotonic() + 30
                while not waiting_on_a_lock() and time.monotonic() < deadline:
                    time.sleep(0.01)
                try:
                    lock_row(earlier)
                finally:
                    cursor.execute("ROLLBACK")
        finally:
            connections.close_all()
            done.set()

    thread = threading.Thread(target=other_transaction)
    thread.start()
    assert holding.wait(30)
    with pytest.raises(OperationalError, match="deadlock detected"):
        aggregate_batch(batch)
    assert done.wait(30)
    thread.join()

    left = IngestBatch.objects.get(pk=batch)
    assert (left.status, left.attempts) == (IngestBatch.Status.PENDING, 0)
    assert "deadlock" in left.error
    # The next run counts it.
    assert aggregate_batch(batch)
    left.refresh_from_db()
    assert (left.status, left.attempts) == (IngestBatch.Status.DONE, 1)
    assert Request.objects.get(pk=own).cause is not None


class _Aborted(Exception):
    def __init__(self, sqlstate: str):
        self.sqlstate = sqlstate


def _raised_from(sqlstate: str) -> OperationalError:
    try:
        try:
            raise _Aborted(sqlstate)
        except _Aborted as cause:
            raise OperationalError("aborted") from cause
    except OperationalError as exc:
        return exc


def test_a_lost_race_is_retried_a_few_times_later_and_later_no_other_error():
    deadlock = _raised_from("40P01")
    delays = [race_retry_delay(deadlock, retries) for retries in range(RACE_RETRIES)]
    assert [int(d) for d in delays] == [2**n for n in range(RACE_RETRIES)]
    assert race_retry_delay(deadlock, RACE_RETRIES) is None
    assert race_retry_delay(_raised_from("55P03"), 0) is not None
    assert race_retry_delay(_raised_from("23505"), 0) is None
    assert race_retry_delay(ValueError("bad row"), 0) is None
