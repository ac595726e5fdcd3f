"""Exactly-once aggregation of an ingest batch into the rollups.

A worker locks the batch row (FOR UPDATE SKIP LOCKED), returns if it is not pending, classifies
its conflicts, adds its counts to the rollups and marks it done — all in one transaction. A crash
rolls everything back and the batch stays pending; a second run finds it done. Any number of
workers may run at once.
"""

import logging
from collections import defaultdict
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import BooleanField, ExpressionWrapper, Q
from django.utils import timezone

from ingest.models import IngestBatch, Request
from ingest.storage import update_requests
from monitor import rollups
from monitor.conflicts import RACE_METHODS, WRITE_METHODS, RaceWinner, classify, is_conflict
from monitor.latency import bucket_for
from monitor.models import Project

log = logging.getLogger(__name__)
SWEEP_LIMIT = 500
MAX_ATTEMPTS = 5

_CONFLICT_FIELDS = (
    "id",
    "ts",
    "method",
    "status",
    "client",
    "resource",
    "request_headers",
    "response_headers",
    "response_body",
)


def aggregate_batch(batch_id: int) -> bool:
    """Aggregate one batch if it is still pending. True when this call did the work.

    A batch that fails MAX_ATTEMPTS times is marked failed (with the error) so that one bad
    batch cannot hold the sweep forever; its raw rows stay stored.
    """
    try:
        return _aggregate(batch_id)
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


def _aggregate(batch_id: int) -> bool:
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
        causes = classify_conflicts(
            batch.project, [r["id"] for r in rows if is_conflict(r["status"])]
        )
        add_to_rollups(batch.project_id, rows, causes)
        batch.status = IngestBatch.Status.DONE
        batch.processed_at = timezone.now()
        batch.attempts += 1
        batch.save(update_fields=["status", "processed_at", "attempts"])
    return True


def batch_rows(batch_id: int) -> list[dict]:
    """What the rollups need of each request of a batch (headers are read as one flag)."""
    conditional = Q(request_headers__has_key="if-match") | Q(
        request_headers__has_key="if-unmodified-since"
    )
    return list(
        Request.objects.filter(batch_id=batch_id)
        .annotate(conditional=ExpressionWrapper(conditional, output_field=BooleanField()))
        .values("id", "endpoint_id", "ts", "method", "status", "duration_ms", "conditional")
    )


def classify_conflicts(project: Project, conflict_ids: list[int]) -> dict[int, str]:
    """Classify these conflicts, store cause/reason/race winner; {row id: cause}."""
    if not conflict_ids:
        return {}
    conflicts = list(Request.objects.filter(id__in=conflict_ids).values(*_CONFLICT_FIELDS))
    window = timedelta(seconds=project.race_window_seconds)
    verdicts = {}
    racing = []
    for row in conflicts:
        verdict = classify(
            method=row["method"],
            status=row["status"],
            request_headers=row["request_headers"],
            response_headers=row["response_headers"],
            body=row["response_body"],
            resource=row["resource"],
        )
        verdicts[row["id"]] = (verdict, None)
        if verdict.cause == "unknown" and row["status"] == 409 and row["method"] in RACE_METHODS:
            racing.append(row)
    if racing:
        winners = race_winners(project, racing, window)
        for row in racing:
            winner = winners.get(row["id"])
            if winner is not None:
                verdict = classify(
                    method=row["method"],
                    status=row["status"],
                    request_headers=row["request_headers"],
                    response_headers=row["response_headers"],
                    body=row["response_body"],
                    winner=winner,
                    resource=row["resource"],
                )
                verdicts[row["id"]] = (verdict, winner.id)
    update_requests(
        ("cause", "cause_reason", "race_winner_id"),
        [(row_id, v.cause, v.reason, winner_id) for row_id, (v, winner_id) in verdicts.items()],
    )
    return {row_id: v.cause for row_id, (v, _) in verdicts.items()}


def race_winners(project: Project, losers: list[dict], window: timedelta) -> dict[int, RaceWinner]:
    """For each losing request, the latest successful write by another client to the same
    resource within `window` before it (looked up through the resource index)."""
    resources = {r["resource"] for r in losers}
    start = min(r["ts"] for r in losers) - window
    end = max(r["ts"] for r in losers)
    candidates = defaultdict(list)
    for cand in (
        Request.objects.filter(
            project=project,
            resource__in=resources,
            ts__gte=start,
            ts__lte=end,
            status__gte=200,
            status__lt=300,
            method__in=WRITE_METHODS,
        )
        .values("id", "client", "method", "ts", "resource")
        .order_by("ts", "id")
    ):
        candidates[cand["resource"]].append(cand)
    found = {}
    for loser in losers:
        best = None
        for cand in candidates.get(loser["resource"], ()):
            if cand["ts"] > loser["ts"]:
                break
            if cand["ts"] >= loser["ts"] - window and cand["client"] != loser["client"]:
                best = cand
        if best is not None:
            found[loser["id"]] = RaceWinner(best["id"], best["client"], best["method"], best["ts"])
    return found


def add_to_rollups(project_id: int, rows: list[dict], causes: dict[int, str]) -> None:
    status_counts: dict[tuple, list] = {}
    latency_counts: dict[tuple, list] = {}
    for row in rows:
        minute = row["ts"].replace(second=0, microsecond=0)
        key = (project_id, minute, row["endpoint_id"], row["status"], causes.get(row["id"], ""))
        acc = status_counts.get(key)
        if acc is None:
            acc = status_counts[key] = [0, 0.0, 0, 0]
        acc[0] += 1
        duration = row["duration_ms"]
        if duration is not None:
            acc[1] += duration
            lkey = (project_id, minute, row["endpoint_id"], bucket_for(duration))
            latency_counts.setdefault(lkey, [0])[0] += 1
        if row["method"] in WRITE_METHODS:
            acc[2] += 1
            if row["conditional"]:
                acc[3] += 1
    rollups.add("monitor_rollup_status_minute", status_counts)
    rollups.add("monitor_rollup_latency_minute", latency_counts)


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
