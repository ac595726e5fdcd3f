"""The row lookups of the conflict analysis (monitor/conflict_analysis.py).

Each runs once per aggregated batch, inside its transaction. On Postgres each is one statement
of raw SQL taking its lists as binary arrays (`= ANY(%b)`, `unnest`; ingest/prepared.py), so
its text and plan stay the same whatever the batch holds; elsewhere (SQLite) the ORM does the
same. Every lookup bounds `ts`, which lets Postgres read only the day partitions concerned.
"""

from datetime import datetime

from django.db import connection
from django.db.models import Q

from ingest.models import Request
from ingest.prepared import prepared_cursor
from monitor.conflicts import CONFLICT_STATUSES, RACE_METHODS, WRITE_METHODS

_TABLE = Request._meta.db_table
# Constants are written into the SQL text, not passed as parameters: a prepared statement's
# generic plan can then use the partial indexes on conflict statuses.
_CONFLICT_STATUSES = ", ".join(str(s) for s in sorted(CONFLICT_STATUSES))
_RACE_METHODS = ", ".join(f"'{m}'" for m in sorted(RACE_METHODS))
_WRITE_METHODS = ", ".join(f"'{m}'" for m in sorted(WRITE_METHODS))

# What the analysis reads of a conflict it may decide (lock_conflicts).
LOCKED_FIELDS = (
    "id",
    "endpoint_id",
    "ts",
    "method",
    "status",
    "client",
    "resource",
    "duration_ms",
    "request_headers",
    "response_headers",
    "response_body",
    "cause",
    "cause_reason",
    "race_winner_id",
    "retry_outcome",
    "resolved_after_ms",
)


def _postgres() -> bool:
    return connection.vendor == "postgresql"


def retry_candidates(
    project_id: int, batch_id: int, pairs: set[tuple[str, str]], start: datetime, end: datetime
) -> list[tuple]:
    """(id, ts, client, resource, retry_outcome, resolved_after_ms) of the stored conflicts of
    other batches by these (client, resource) pairs between start and end."""
    if _postgres():
        clients = [client for client, _ in pairs]
        resources = [resource for _, resource in pairs]
        with prepared_cursor() as cursor:
            cursor.execute(
                f"SELECT id, ts, client, resource, retry_outcome, resolved_after_ms "
                f"FROM {_TABLE} WHERE project_id = %b AND status IN ({_CONFLICT_STATUSES}) "
                "AND batch_id IS DISTINCT FROM %b AND ts >= %b AND ts <= %b "
                "AND (client, resource) IN (SELECT * FROM unnest(%b::text[], %b::text[]))",
                [project_id, batch_id, start, end, clients, resources],
            )
            return cursor.fetchall()
    return [
        row
        for row in _stored(project_id, batch_id)
        .filter(
            resource__in={resource for _, resource in pairs},
            client__in={client for client, _ in pairs},
            ts__gte=start,
            ts__lte=end,
        )
        .values_list("id", "ts", "client", "resource", "retry_outcome", "resolved_after_ms")
        if (row[2], row[3]) in pairs
    ]


def race_candidates(
    project_id: int, batch_id: int, resources: set[str], start: datetime, end: datetime
) -> list[tuple]:
    """(id, ts) of stored 409s of other batches on these resources between start and end that
    a successful write may have beaten: no winner linked yet, cause undecided, `unknown` or
    `duplicate` (a create-only PUT)."""
    if _postgres():
        with prepared_cursor() as cursor:
            cursor.execute(
                f"SELECT id, ts FROM {_TABLE} WHERE project_id = %b AND status = 409 "
                "AND batch_id IS DISTINCT FROM %b AND resource = ANY(%b) "
                f"AND ts >= %b AND ts <= %b AND method IN ({_RACE_METHODS}) "
                "AND race_winner_id IS NULL "
                "AND (cause IS NULL OR cause IN ('unknown', 'duplicate'))",
                [project_id, batch_id, list(resources), start, end],
            )
            return cursor.fetchall()
    return list(
        _stored(project_id, batch_id)
        .filter(
            Q(cause__isnull=True) | Q(cause__in=("unknown", "duplicate")),
            resource__in=resources,
            ts__gte=start,
            ts__lte=end,
            status=409,
            method__in=RACE_METHODS,
            race_winner__isnull=True,
        )
        .values_list("id", "ts")
    )


def _stored(project_id: int, batch_id: int):
    return Request.objects.filter(project_id=project_id, status__in=CONFLICT_STATUSES).exclude(
        batch_id=batch_id
    )


def lock_conflicts(ids: set[int], start: datetime, end: datetime) -> list[dict]:
    """Lock these rows in id order (one statement, so two workers cannot deadlock on them) and
    read them as they are once the lock is held. `start`/`end` bound their times."""
    if _postgres():
        with prepared_cursor() as cursor:
            cursor.execute(
                f"SELECT {', '.join(LOCKED_FIELDS)} FROM {_TABLE} "
                "WHERE id = ANY(%b) AND ts >= %b AND ts <= %b ORDER BY id FOR NO KEY UPDATE",
                [sorted(ids), start, end],
            )
            # Binary results: the jsonb headers arrive decoded.
            return [dict(zip(LOCKED_FIELDS, row, strict=True)) for row in cursor.fetchall()]
    return list(
        Request.objects.filter(id__in=sorted(ids), ts__gte=start, ts__lte=end)
        .order_by("id")
        .select_for_update(no_key=True)
        .values(*LOCKED_FIELDS)
    )


def successful_writes(
    project_id: int, resources: set[str], start: datetime, end: datetime
) -> list[tuple]:
    """(id, client, method, ts, resource) of the 2xx writes to these resources between start
    and end, in (ts, id) order: the race winners' candidates (monitor/races.py)."""
    if _postgres():
        with prepared_cursor() as cursor:
            cursor.execute(
                f"SELECT id, client, method, ts, resource FROM {_TABLE} "
                "WHERE project_id = %b AND resource = ANY(%b) AND ts >= %b AND ts <= %b "
                f"AND status >= 200 AND status < 300 AND method IN ({_WRITE_METHODS}) "
                "ORDER BY ts, id",
                [project_id, list(resources), start, end],
            )
            return cursor.fetchall()
    return list(
        Request.objects.filter(
            project_id=project_id,
            resource__in=resources,
            ts__gte=start,
            ts__lte=end,
            status__gte=200,
            status__lt=300,
            method__in=WRITE_METHODS,
        )
        .order_by("ts", "id")
        .values_list("id", "client", "method", "ts", "resource")
    )
