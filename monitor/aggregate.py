"""Exactly-once aggregation of an ingest batch into the rollups.

A worker locks the batch row (FOR UPDATE SKIP LOCKED), returns if it is not pending, analyses
its conflicts and the stored ones its writes decide (monitor/conflict_analysis.py), adds its
counts to the rollups and marks it done — all in one transaction. A crash
rolls everything back and the batch stays pending; a second run finds it done. Any number of
workers may run at once.
"""

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import BooleanField, ExpressionWrapper, Q
from django.utils import timezone

from ingest.models import IngestBatch, Request
from ingest.prepared import pipeline
from monitor import conflict_analysis
from monitor.conflict_analysis import (
    CLIENT_VALUES,
    CONDITIONAL,
    CONFLICTS,
    CREATES,
    CREATES_WITHOUT_KEY,
    REQUESTS,
    WEAK,
    WRITES,
    Counts,
    minute_of,
)
from monitor.conflicts import WRITE_METHODS, is_conflict
from monitor.latency import bucket_for

log = logging.getLogger(__name__)
SWEEP_LIMIT = 500
MAX_ATTEMPTS = 5


def aggregate_batch(batch_id: int, *, analysis: bool = True) -> bool:
    """Aggregate one batch if it is still pending. True when this call did the work.

    A batch that fails MAX_ATTEMPTS times is marked failed (with the error) so that one bad
    batch cannot hold the sweep forever; its raw rows stay stored. `analysis=False` counts the
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
                batch.attempts += 1
                batch.error = f"{type(exc).__name__}: {exc}"[:2000]
                if batch.attempts >= MAX_ATTEMPTS:
                    batch.status = IngestBatch.Status.FAILED
                batch.save(update_fields=["attempts", "error", "status"])
        raise


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
        rows = batch_rows(batch_id)
        counts = Counts(batch.project_id)
        plain, conflicts = [], []
        for row in rows:
            (conflicts if is_conflict(row["status"]) else plain).append(row)
        # Successful reads that sampling left out of the raw table are counted all the same.
        plain += sampled_rows(batch.sampled)
        half = len(plain) // 2
        # One pipeline on Postgres, so that Postgres works while Python counts: the analysis
        # takes its locks while the first half of the plain rows is counted, and writes its
        # decisions back while the rest is.
        with pipeline():
            if analysis:
                finish = conflict_analysis.analyse(batch.project, batch_id, rows, timezone.now())
            add_to_rollups(counts, plain[:half], {})
            if analysis:
                causes = finish(counts)
                counts.write_requests()
            else:
                causes = count_unclassified(counts, conflicts)
            add_to_rollups(counts, plain[half:] + conflicts, causes)
            counts.write_rollups()
        batch.status = IngestBatch.Status.DONE
        batch.processed_at = timezone.now()
        batch.attempts += 1
        batch.sampled = []
        batch.save(update_fields=["status", "processed_at", "attempts", "sampled"])
    return True


def batch_rows(batch_id: int) -> list[dict]:
    """What the rollups need of each request of a batch (headers are read as flags in SQL)."""
    conditional = Q(request_headers__has_key="if-match") | Q(
        request_headers__has_key="if-unmodified-since"
    )
    return list(
        Request.objects.filter(batch_id=batch_id)
        .annotate(
            conditional=ExpressionWrapper(conditional, output_field=BooleanField()),
            weak=ExpressionWrapper(
                Q(**{"request_headers__if-match__startswith": "W/"}),
                output_field=BooleanField(),
            ),
            keyed=ExpressionWrapper(
                Q(request_headers__has_key="idempotency-key"), output_field=BooleanField()
            ),
        )
        .values(
            "id",
            "endpoint_id",
            "ts",
            "method",
            "status",
            "duration_ms",
            "client",
            "resource",
            "conditional",
            "weak",
            "keyed",
        )
    )


def sampled_rows(sampled: list) -> list[dict]:
    """The batch's sampled-out successful reads (ingest/sampling.py) as rows for the rollups:
    no id (never a conflict), no write flags (reads only)."""
    return [
        {
            "id": None,
            "endpoint_id": endpoint_id,
            "ts": datetime.fromisoformat(ts),
            "method": method,
            "status": status,
            "duration_ms": duration_ms,
            "client": client,
            "conditional": False,
            "weak": False,
            "keyed": False,
        }
        for endpoint_id, ts, method, status, duration_ms, client in sampled
    ]


def count_unclassified(counts: Counts, rows: list[dict]) -> dict[int, str]:
    """The batch's conflicts as `unknown` ({id: cause}), counted per resource."""
    causes = {}
    for row in rows:
        if is_conflict(row["status"]):
            causes[row["id"]] = "unknown"
            key = (counts.project_id, minute_of(row["ts"]), row["endpoint_id"], row["resource"])
            counts.bump("monitor_rollup_resource_minute", (*key, "unknown"), (1,))
    return causes


def add_to_rollups(counts: Counts, rows: list[dict], causes: dict[int, str]) -> None:
    """Count the batch's rows: status and latency per endpoint × minute; requests, conflicts,
    preconditions and creates per client × endpoint × minute."""
    project_id = counts.project_id
    status_counts = counts.tables.setdefault("monitor_rollup_status_minute", {})
    latency_counts = counts.tables.setdefault("monitor_rollup_latency_minute", {})
    client_counts = counts.tables.setdefault("monitor_rollup_client_minute", {})
    for row in rows:
        minute = row["ts"].replace(second=0, microsecond=0)
        cause = causes.get(row["id"], "")
        key = (project_id, minute, row["endpoint_id"], row["status"], cause)
        acc = status_counts.get(key)
        if acc is None:
            acc = status_counts[key] = [0, 0.0, 0, 0]
        acc[0] += 1
        duration = row["duration_ms"]
        if duration is not None:
            acc[1] += duration
            lkey = (project_id, minute, row["endpoint_id"], bucket_for(duration))
            latency_counts.setdefault(lkey, [0])[0] += 1
        write = row["method"] in WRITE_METHODS
        if write:
            acc[2] += 1
            if row["conditional"]:
                acc[3] += 1
        ckey = (project_id, minute, row["endpoint_id"], row["client"] or "")
        cacc = client_counts.get(ckey)
        if cacc is None:
            cacc = client_counts[ckey] = [0] * CLIENT_VALUES
        cacc[REQUESTS] += 1
        if cause:
            cacc[CONFLICTS] += 1
        if write:
            cacc[WRITES] += 1
            if row["conditional"]:
                cacc[CONDITIONAL] += 1
            if row["weak"]:
                cacc[WEAK] += 1
            if row["method"] == "POST":
                cacc[CREATES] += 1
                if not row["keyed"]:
                    cacc[CREATES_WITHOUT_KEY] += 1


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
