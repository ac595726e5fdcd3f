"""Celery tasks: a few lines each; the work lives in the domain modules."""

import logging

from celery import shared_task
from django.db import transaction

from ingest import partitions
from monitor.pipeline import aggregate, finalize, retention
from monitor.routing import tasks as routing


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=None)
def aggregate_batch(self, batch_id: int) -> bool:
    try:
        return aggregate.aggregate_batch(batch_id)
    except Exception as exc:
        # Postgres aborted it for another transaction's sake (a deadlock with a backfill):
        # queued again in a moment, not left for the sweep. Run in-process (no broker), a
        # retry would run inside this very call; the sweep takes the batch there.
        delay = aggregate.race_retry_delay(exc, self.request.retries)
        if delay is None or self.request.is_eager:
            raise
        raise self.retry(exc=exc, countdown=delay) from exc


@shared_task(acks_late=True)
def sweep_pending_batches() -> int:
    return aggregate.sweep_pending()


@shared_task(acks_late=True)
def finalize_retry_outcomes() -> int:
    return finalize.finalize_pending()


@shared_task(acks_late=True)
def prune_retention() -> int:
    """Daily: raw rows and rollups past retention (monitor/pipeline/retention.py)."""
    return sum(retention.prune().deleted.values())


@shared_task(acks_late=True)
def create_partitions() -> int:
    """Hourly: the raw table's partitions for today and the next two days (Postgres)."""
    return len(partitions.ensure_ahead())


@shared_task(acks_late=True)
def learn_routes() -> int:
    """Every few minutes: learn parameters from cardinality, merge what they name alike."""
    return routing.learn_all()


@shared_task(acks_late=True)
def reroute_project(project_id: int) -> int:
    """After a routing change: merge the endpoints the project's routes now name alike."""
    return routing.reroute_project(project_id)


def after_routing_change(project) -> None:
    """Once the change is committed, ask a worker to merge what the new routing names alike
    (if the broker is down, the periodic learn_routes pass does it)."""

    def enqueue() -> None:
        try:
            reroute_project.delay(project.id)
        except Exception:  # noqa: BLE001 - broker down or the in-process run failed
            logging.getLogger(__name__).warning(
                "re-routing of project %s left for later", project.slug, exc_info=True
            )

    transaction.on_commit(enqueue)
