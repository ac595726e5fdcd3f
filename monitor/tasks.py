"""Celery tasks: a few lines each; the work lives in the domain modules."""

from celery import shared_task

from ingest import partitions
from monitor.pipeline import aggregate, finalize, retention


@shared_task(acks_late=True, reject_on_worker_lost=True, max_retries=None)
def aggregate_batch(batch_id: int) -> bool:
    return aggregate.aggregate_batch(batch_id)


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
