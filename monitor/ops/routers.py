"""Dashboard and API reads on a read replica (DATABASE_REPLICA_URL); everything else on the primary.

Only the shipped data is read from the replica: the raw requests and the rollups, the rows that
make pages and API answers heavy. Projects, members, sources, rules, users, sessions and tokens
stay on the primary, so that a change a user just made (a rule, a member, a sign-in) is what the
next page shows, whatever the replica's lag. Ingest, aggregation, alerts and management commands
never read the replica: only a GET or HEAD request to a page or the API turns it on (the
middleware below), and never inside a transaction on the primary.
"""

from collections.abc import Callable, Iterator
from contextvars import ContextVar

from django.db import connections
from django.http import HttpRequest, HttpResponse

REPLICA = "replica"
# Models read from the replica: the raw requests and every rollup (monitor_rollup_*).
REPLICA_MODELS = frozenset({"ingest.request"})
ROLLUP_TABLE_PREFIX = "monitor_rollup_"
# Paths whose GETs never use the replica: health and metrics report on the primary itself.
PRIMARY_ONLY_PREFIXES = ("/healthz", "/metrics", "/ingest/", "/admin/")

_replica_reads: ContextVar[bool] = ContextVar("replica_reads", default=False)


def reads_from_replica(model) -> bool:
    """Whether `model` holds shipped data (raw requests, rollups) that a page may read on the
    replica."""
    meta = model._meta
    return meta.label_lower in REPLICA_MODELS or meta.db_table.startswith(ROLLUP_TABLE_PREFIX)


class ReplicaRouter:
    """Routes reads of shipped data to the replica while a page or API GET is being answered."""

    def db_for_read(self, model, **hints) -> str | None:
        if not _replica_reads.get() or not reads_from_replica(model):
            return None
        # A read inside a transaction on the primary must see that transaction's writes.
        if connections["default"].in_atomic_block:
            return None
        return REPLICA

    def db_for_write(self, model, **hints) -> str:
        return "default"

    def allow_relation(self, obj1, obj2, **hints) -> bool:
        # Both aliases hold the same database: any two rows may be related.
        return True

    def allow_migrate(self, db, app_label, model_name=None, **hints) -> bool:
        # The replica follows the primary's schema through replication.
        return db == "default"


class ReplicaReadsMiddleware:
    """Turns replica reads on for GET and HEAD requests to pages and the API."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method not in ("GET", "HEAD") or request.path.startswith(PRIMARY_ONLY_PREFIXES):
            return self.get_response(request)
        token = _replica_reads.set(True)
        try:
            response = self.get_response(request)
        finally:
            _replica_reads.reset(token)
        if response.streaming:
            # A streamed body (the CSV export) runs its queries after this returns.
            response.streaming_content = _on_replica(response.streaming_content)
        return response


def _on_replica(chunks: Iterator) -> Iterator:
    previous = _replica_reads.get()
    _replica_reads.set(True)
    try:
        yield from chunks
    finally:
        _replica_reads.set(previous)
