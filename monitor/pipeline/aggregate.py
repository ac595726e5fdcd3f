"""Exactly-once aggregation of an ingest batch into the rollups.

A worker locks the batch row (FOR UPDATE SKIP LOCKED), returns if it is not pending, analyses
its conflicts and the stored ones its writes decide (monitor/pipeline/analysis.py), counts its
rows (monitor/pipeline/counts.py), adds the counts to the rollups and marks it done, all in one
transaction. A crash rolls everything back and the batch stays pending; a second run finds it
done. Any number of workers may run at once.
"""

import logging
import random
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from ingest.models import IngestBatch
from ingest.prepared import pipeline
from monitor.pipeline.analysis import analyse
from monitor.pipeline.batch import batch_rows, sampled_rows
from monitor.pipeline.counts import Counts
from monitor.rules.causes import is_conflict
from monitor.rules.versions import VersionSignals

log = logging.getLogger(__name__)
SWEEP_LIMIT = 500
MAX_ATTEMPTS = 5
# serialization_failure, deadlock_detected, lock_not_available
RACE_LOST = {"40001", "40P01", "55P03"}
# A batch that lost a race is queued again after 1, 2, 4, 8 and 16 s (plus up to a second, so
# that two losers of one deadlock do not meet again); after that the sweep takes it.
RACE_RETRIES = 5


def aggregate_batch(batch_id: int, *, analysis: bool = True) -> bool:
    """Aggregate one batch if it is still pending. True when this call did the work.

    A batch that fails MAX_ATTEMPTS times is marked failed (with the error) so that one bad
    batch cannot hold the sweep forever; its raw rows stay stored. A transaction that Postgres
    aborts to break a deadlock, or for a serialization failure or a lock timeout, lost a race
    with another one: the error is kept but uses no attempt. `analysis=False` counts the
    rows without classification and outcome tracking (every conflict `unknown` in the status,
    client and resource rollups; no race or retry lookups, no write-back, no outcome or race
    rollups): the baseline of bench/conflicts.py, not for production.
    """
    try:
        return _aggregate(batch_id, analysis)
    except Exception as exc:
        with transaction.atomic():
            batch = IngestBatch.objects.select_for_update().filter(pk=batch_id).first()
            if batch is not None and batch.status == IngestBatch.Status.PENDING:
                if not lost_a_race(exc):
                    batch.attempts += 1
                batch.error = f"{type(exc).__name__}: {exc}"[:2000]
                if batch.attempts >= MAX_ATTEMPTS:
                    batch.status = IngestBatch.Status.FAILED
                batch.save(update_fields=["attempts", "error", "status"])
        raise


def lost_a_race(exc: Exception) -> bool:
    """Whether Postgres aborted the transaction for another one's sake (a deadlock, a
    serialization failure, a lock timeout), which running it again resolves."""
    return getattr(exc.__cause__, "sqlstate", None) in RACE_LOST


def race_retry_delay(exc: Exception, retries: int) -> float | None:
    """Seconds to wait before running a batch again whose aggregation raised `exc` after
    `retries` retries; None when it did not lose a race or has been retried enough."""
    if not lost_a_race(exc) or retries >= RACE_RETRIES:
        return None
    return 2**retries + random.random()


def _aggregate(batch_id: int, analysis: bool = True) -> bool:
    with transaction.atomic():
        # Lock the batch row only (of=self): locking the joined project row too would make
        # workers on other batches of the same project skip theirs.
        batch = (
            IngestBatch.objects.select_for_update(skip_locked=True, no_key=True, of=("self",))
            .filter(pk=batch_id, status=IngestBatch.Status.PENDING)
            .select_related("project")
            .first()
        )
        if batch is None:
            # Done already, or another worker holds it right now.
            return False
        signals = VersionSignals.for_project(batch.project)
        counts = Counts(batch.project_id, signals=signals)
        rows = batch_rows(batch_id, signals)
        with pipeline():
            _count(batch, rows, counts, analysis)
            counts.write_rollups()
        _mark_done([batch])
    return True


def _count(batch: IngestBatch, rows: list[dict], counts: Counts, analysis: bool = True) -> None:
    """Analyse the batch's conflicts (their decisions written back) and count its rows
    (`batch_rows`) into `counts`, whose rollups the caller writes in the same transaction
    (inside a pipeline)."""
    plain, conflicts = [], []
    for row in rows:
        (conflicts if is_conflict(row["status"]) else plain).append(row)
    # Successful reads that sampling left out of the raw table are counted all the same.
    plain += sampled_rows(batch.sampled)
    half = len(plain) // 2
    # Called inside one pipeline on Postgres, so that Postgres works while Python counts: the
    # analysis takes its locks while the first half of the plain rows is counted, and writes
    # its decisions back while the rest is.
    if analysis:
        finish = analyse(batch.project, batch.id, rows, timezone.now())
    counts.requests(plain[:half], {})
    if analysis:
        causes = finish(counts)
        counts.write_decided()
        counts.decided = []
    else:
        causes = count_unclassified(counts, conflicts)
    counts.requests(plain[half:] + conflicts, causes)


def _mark_done(batches: list[IngestBatch]) -> None:
    now = timezone.now()
    for batch in batches:
        batch.status = IngestBatch.Status.DONE
        batch.processed_at = now
        batch.attempts += 1
        batch.sampled = []
    fields = ["status", "processed_at", "attempts", "sampled"]
    if len(batches) == 1:
        batches[0].save(update_fields=fields)
    else:
        IngestBatch.objects.bulk_update(batches, fields)


def aggregate_together(batch_ids: list[int]) -> int:
    """Aggregate the pending ones of these batches (of one project) in one transaction, as a
    backfill does: each is analysed in turn exactly as its own aggregation would analyse it
    (its decisions written back before the next one's analysis reads), their counts are summed
    in memory and added to every rollup once, and every one is marked done with them. So a
    batch is counted exactly when it is marked done: a failure rolls back the lot, which stay
    pending for `aggregate_batch` or the sweep. Returns how many it aggregated.

    Batches held by another worker right now are left to it. The conflict rows the analyses
    lock stay locked until the end: meant for a backfill, not for live ingest."""
    if not batch_ids:
        return 0
    with transaction.atomic():
        batches = list(
            IngestBatch.objects.select_for_update(skip_locked=True, no_key=True, of=("self",))
            .filter(pk__in=batch_ids, status=IngestBatch.Status.PENDING)
            .select_related("project")
            .order_by("id")
        )
        if not batches:
            return 0
        project = batches[0].project
        if any(batch.project_id != project.id for batch in batches):
            raise ValueError("aggregate_together takes the batches of one project")
        counts = Counts(project.id, signals=VersionSignals.for_project(project))
        for batch in batches:
            batch.project = project
            rows = batch_rows(batch.id, counts.signals)
            with pipeline():
                _count(batch, rows, counts)
        # COPY, which a pipeline cannot carry.
        counts.write_rollups(copy=True)
        _mark_done(batches)
    return len(batches)


def count_unclassified(counts: Counts, rows: list[dict]) -> dict[int, str]:
    """The batch's conflicts as `unknown` ({id: cause}), counted per resource."""
    causes = {}
    for row in rows:
        causes[row["id"]] = "unknown"
        counts.unclassified(row)
    return causes


def sweep_pending(older_than: timedelta | None = None) -> int:
    """Aggregate batches left pending (broker down, worker lost). Returns how many it did."""
    if older_than is None:
        older_than = timedelta(seconds=settings.CONFLICTWATCH_SWEEP_AFTER_SECONDS)
    cutoff = timezone.now() - older_than
    ids = list(
        IngestBatch.objects.filter(status=IngestBatch.Status.PENDING, received_at__lt=cutoff)
        .order_by("received_at")
        .values_list("id", flat=True)[:SWEEP_LIMIT]
    )
    done = 0
    for batch_id in ids:
        try:
            done += aggregate_batch(batch_id)
        except Exception:
            log.exception("sweep could not aggregate batch %s", batch_id)
    if done:
        log.info("sweep aggregated %d pending batches", done)
    return done
