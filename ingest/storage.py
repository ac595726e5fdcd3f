"""Store normalized records: one transaction for the batch row and its raw rows.

On Postgres the rows are COPYed, in COPY's binary format (no times or numbers written out as
text and parsed again), straight into the raw table. A batch holding a record stored already
fails there on the dedup key and is stored again in a new transaction, through COPY into a
session temp table, then one INSERT … ON CONFLICT DO NOTHING into the raw table, so that a
record shipped twice is stored once and counted as a duplicate. SQLite does the same with a
plain multi-row insert.
"""

from dataclasses import dataclass
from datetime import UTC

import msgspec
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from psycopg import postgres
from psycopg.adapt import Dumper
from psycopg.pq import Format

from ingest import partitions, sampling
from ingest.models import IngestBatch, Request, SampledKey, Source
from ingest.record import NativeRecord
from monitor.models import OVERFLOW_ROUTE, Endpoint, Project

COLUMNS = (
    "project_id",
    "batch_id",
    "endpoint_id",
    "dedup_key",
    "ts",
    "method",
    "path",
    "query",
    "route",
    "status",
    "host",
    "service",
    "duration_ms",
    "request_bytes",
    "response_bytes",
    "upstream_status",
    "client",
    "client_ip",
    "user_agent",
    "request_id",
    "request_headers",
    "response_headers",
    "response_body",
    "resource",
)
# The Postgres type of each column, as binary COPY writes it (tests/ingest/test_storage_copy.py
# checks them against the table).
COPY_TYPES = (
    "int8",  # project_id
    "int8",  # batch_id
    "int8",  # endpoint_id
    "varchar",  # dedup_key
    "timestamptz",  # ts
    "varchar",  # method
    "text",  # path
    "text",  # query
    "text",  # route
    "int2",  # status
    "text",  # host
    "text",  # service
    "float8",  # duration_ms
    "int8",  # request_bytes
    "int8",  # response_bytes
    "int2",  # upstream_status
    "text",  # client
    "text",  # client_ip
    "text",  # user_agent
    "text",  # request_id
    "jsonb",  # request_headers
    "jsonb",  # response_headers
    "text",  # response_body
    "text",  # resource
)
_JSON_COLUMNS = tuple(i for i, name in enumerate(COPY_TYPES) if name == "jsonb")
_TABLE = Request._meta.db_table
_TEMP = "cw_incoming_requests"
_json = msgspec.json.Encoder()
UNIQUE_VIOLATION = "23505"


class _JsonbDumper(Dumper):
    """A jsonb value in binary COPY (format version 1, then the JSON text), encoded by msgspec
    in one call: psycopg's own jsonb dumper goes through two Python calls per value."""

    format = Format.BINARY
    oid = postgres.types["jsonb"].oid

    def dump(self, obj) -> bytes:
        return b"\x01" + _json.encode(obj)


@dataclass
class StoreResult:
    batch_id: int | None
    accepted: int
    duplicates: int


# Once a project has max_endpoints, new routes are counted under one overflow endpoint per
# method; other methods (a scanner may send any token) share the OTHER one. Room for these is
# kept below the limit, so a project never has more than max_endpoints endpoints.
OVERFLOW_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
OVERFLOW_OTHER = "OTHER"
OVERFLOW_ROOM = len(OVERFLOW_METHODS) + 1


def endpoints_for(project: Project, keys: dict[tuple[str, str], str]) -> dict[tuple[str, str], int]:
    """Endpoint ids for (method, route) pairs ({pair: route source}), creating the missing
    ones while the project has room for them; past max_endpoints a new pair is counted under
    its method's overflow endpoint. A pair whose endpoint was merged into another (a routing
    change) gets that other endpoint."""
    found = _known(project, keys)
    missing = [key for key in keys if key not in found]
    if not missing:
        return found
    # A full project stays full: endpoints are only added under the lock below. Its new routes
    # (scanner paths, cache-busted files) go to the overflow endpoints without waiting on the
    # project row, which would hold up its other batches. Room made meanwhile (a higher limit,
    # endpoints removed) is found by the next batch.
    if _room(project) <= 0:
        over = {(overflow_method(m), OVERFLOW_ROUTE): "" for m, _ in missing}
        made = _known(project, over)
        if len(made) == len(over):
            return found | {(m, r): made[(overflow_method(m), OVERFLOW_ROUTE)] for m, r in missing}
    # One batch at a time decides which new routes still get an endpoint of their own (FOR NO
    # KEY UPDATE: rows that merely reference the project are not held up).
    Project.objects.select_for_update(no_key=True).filter(pk=project.pk).values_list("pk").first()
    found.update(_known(project, {key: "" for key in missing}))
    missing = [key for key in missing if key not in found]
    if not missing:
        return found
    room = _room(project)
    own, overflowed = missing[: max(room, 0)], missing[max(room, 0) :]
    new = [Endpoint(project=project, method=m, route=r, source=keys[(m, r)]) for m, r in own]
    over = {(overflow_method(m), OVERFLOW_ROUTE) for m, _ in overflowed}
    new += [
        Endpoint(project=project, method=m, route=r, source=Endpoint.Source.OVERFLOW)
        for m, r in sorted(over)
    ]
    if new:
        Endpoint.objects.bulk_create(new, ignore_conflicts=True)
        found.update(_known(project, {key: "" for key in [*own, *over]}))
    for method, route in overflowed:
        found[(method, route)] = found[(overflow_method(method), OVERFLOW_ROUTE)]
    return found


def _room(project: Project) -> int:
    """How many more routes may get an endpoint of their own, keeping room for the overflow
    endpoints not made yet."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT count(*), count(*) FILTER (WHERE route = %s) "
            f"FROM {Endpoint._meta.db_table} WHERE project_id = %s AND merged_into_id IS NULL",
            [OVERFLOW_ROUTE, project.id],
        )
        active, overflow_made = cursor.fetchone()
    return project.max_endpoints - (OVERFLOW_ROOM - overflow_made) - active


def overflow_method(method: str) -> str:
    """The method of the overflow endpoint a request of this method is counted under."""
    return method if method in OVERFLOW_METHODS else OVERFLOW_OTHER


def _known(project: Project, keys) -> dict[tuple[str, str], int]:
    found: dict[tuple[str, str], int] = {}
    if not keys:
        return found
    routes = sorted({route for _, route in keys})
    # Plain SQL: read once per body, where the ORM's building of the statement cost more than
    # the database's answer.
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id, method, route, merged_into_id FROM {Endpoint._meta.db_table} "
            f"WHERE project_id = %s AND route IN ({', '.join(['%s'] * len(routes))})",
            [project.id, *routes],
        )
        rows = cursor.fetchall()
    for ep_id, method, route, merged_into in rows:
        if (method, route) in keys:
            found[(method, route)] = merged_into or ep_id
    return found


def _rows(project_id: int, batch_id: int, records: list[NativeRecord], endpoints) -> list[tuple]:
    return [
        (
            project_id,
            batch_id,
            endpoints[(r.method, r.route)],
            r.dedup_key,
            r.ts,
            r.method,
            r.path,
            r.query,
            r.route,
            r.status,
            r.host,
            r.service,
            r.duration_ms,
            r.request_bytes,
            r.response_bytes,
            r.upstream_status,
            r.client,
            r.client_ip,
            r.user_agent,
            r.request_id,
            r.request_headers,
            r.response_headers,
            r.response_body,
            r.resource,
        )
        for r in records
    ]


def _copy(cursor, table: str, rows: list[tuple]) -> None:
    """COPY the rows into the table in binary; headers go as jsonb, encoded by msgspec."""
    cols = ", ".join(COLUMNS)
    # For COPY's typed columns only (no Python type): other statements are left alone.
    cursor.adapters.register_dumper(None, _JsonbDumper)
    with cursor.copy(f"COPY {table} ({cols}) FROM STDIN (FORMAT BINARY)") as copy:
        copy.set_types(COPY_TYPES)
        for row in rows:
            copy.write_row(row)


def _insert_postgres(cursor, rows: list[tuple], straight: bool) -> int:
    """`straight`: COPY the rows straight into the raw table, which fails on the dedup key when
    one of them is stored already. Else COPY them into the temp table and from there into the
    raw table with ON CONFLICT DO NOTHING, which skips those."""
    cols = ", ".join(COLUMNS)
    if straight:
        with connection.wrap_database_errors:
            _copy(cursor.cursor, _TABLE, rows)
        return len(rows)
    cursor.execute(
        f"CREATE TEMP TABLE IF NOT EXISTS {_TEMP} ON COMMIT DELETE ROWS "
        f"AS SELECT {cols} FROM {_TABLE} WITH NO DATA"
    )
    # The raw psycopg cursor does COPY; wrap its errors as Django's like every other query.
    with connection.wrap_database_errors:
        _copy(cursor.cursor, _TEMP, rows)
    cursor.execute(
        f"INSERT INTO {_TABLE} ({cols}) SELECT {cols} FROM {_TEMP} "
        "ON CONFLICT (project_id, dedup_key, ts) DO NOTHING"
    )
    inserted = cursor.rowcount
    cursor.execute(f"TRUNCATE {_TEMP}")
    return inserted


def _insert_sqlite(cursor, rows: list[tuple]) -> int:
    adapt = connection.ops.adapt_datetimefield_value
    rows = [(*row[:4], adapt(row[4]), *row[5:]) for row in rows]
    rows = [
        tuple(_json.encode(v).decode() if i in _JSON_COLUMNS else v for i, v in enumerate(row))
        for row in rows
    ]
    cols = ", ".join(COLUMNS)
    marks = ", ".join(["%s"] * len(COLUMNS))
    cursor.executemany(
        f"INSERT INTO {_TABLE} ({cols}) VALUES ({marks}) "
        "ON CONFLICT (project_id, dedup_key, ts) DO NOTHING",
        rows,
    )
    return cursor.rowcount


def _store_sampled(cursor, project_id: int, records: list[NativeRecord], endpoints) -> list:
    """Record the dedup keys of successful reads left out by sampling; return what the
    rollups need of those not seen before (a resent one is a duplicate, as a stored row is)."""
    rows = sorted((project_id, r.dedup_key, r.ts) for r in records)
    table = SampledKey._meta.db_table
    if connection.vendor == "postgresql":
        cursor.execute(
            f"INSERT INTO {table} (project_id, dedup_key, ts) "
            "SELECT * FROM unnest(%s::bigint[], %s::text[], %s::timestamptz[]) "
            "ON CONFLICT (project_id, dedup_key, ts) DO NOTHING RETURNING dedup_key, ts",
            [list(col) for col in zip(*rows, strict=True)],
        )
        new = set(cursor.fetchall())
    else:
        adapt = connection.ops.adapt_datetimefield_value
        new = set()
        for start in range(0, len(rows), 300):
            chunk = rows[start : start + 300]
            cursor.execute(
                f"INSERT INTO {table} (project_id, dedup_key, ts) VALUES "
                + ", ".join(["(%s, %s, %s)"] * len(chunk))
                + " ON CONFLICT (project_id, dedup_key, ts) DO NOTHING RETURNING dedup_key",
                [v for p, k, t in chunk for v in (p, k, adapt(t))],
            )
            new.update(row[0] for row in cursor.fetchall())
        new = {(r.dedup_key, r.ts) for r in records if r.dedup_key in new}
    return [
        [
            endpoints[(r.method, r.route)],
            r.ts.isoformat(),
            r.method,
            r.status,
            r.duration_ms,
            r.client,
        ]
        for r in records
        if (r.dedup_key, r.ts) in new
    ]


def store_records(
    project: Project,
    source: Source | None,
    records: list[NativeRecord],
    rejected: int = 0,
    aggregate: bool = True,
) -> StoreResult:
    """Write a batch and its records in one transaction; enqueue aggregation after commit
    (`aggregate=False`: the batch is left pending for the caller, or else the sweep, to
    aggregate).

    Records repeated within the body or already stored count as duplicates.
    """
    unique: dict[tuple[str, object], NativeRecord] = {}
    for rec in records:
        unique.setdefault((rec.dedup_key, rec.ts), rec)
    fresh = list(unique.values())
    sample_rate = sampling.rate()
    if sample_rate >= 1.0:
        kept = fresh
    else:
        kept = [r for r in fresh if sampling.keep(r.method, r.status, r.dedup_key, sample_rate)]
    left_out: list[NativeRecord] = []
    if len(kept) < len(fresh):
        kept_ids = {id(r) for r in kept}
        left_out = [r for r in fresh if id(r) not in kept_ids]
    # Daily partitions the rows need (Postgres), created before the batch's transaction.
    partitions.ensure({r.ts.astimezone(UTC).date() for r in kept})
    # The straight COPY writes each row once instead of twice, and needs no savepoint (two
    # round trips) to recover from: when a record is stored already (a body sent again, records
    # of another door), it fails on the dedup key, and the batch's transaction is done again
    # through the temp table. Duplicates are the exception.
    try:
        return _store(project, source, records, fresh, kept, left_out, rejected, True, aggregate)
    except IntegrityError as exc:
        if getattr(exc.__cause__, "sqlstate", None) != UNIQUE_VIOLATION:
            raise
    return _store(project, source, records, fresh, kept, left_out, rejected, False, aggregate)


def _store(
    project: Project,
    source: Source | None,
    records: list[NativeRecord],
    fresh: list[NativeRecord],
    kept: list[NativeRecord],
    left_out: list[NativeRecord],
    rejected: int,
    straight: bool,
    aggregate: bool = True,
) -> StoreResult:
    """The batch's transaction: its row, its endpoints, its raw rows and sampled keys."""
    # The straight COPY stores every kept row or fails: on Postgres, without sampled keys to
    # count, the batch's counts are known before its rows are written, so its row is written
    # once, with them, instead of inserted and then updated.
    counted = straight and not left_out and connection.vendor == "postgresql"
    with transaction.atomic():
        batch = IngestBatch(project=project, source=source, rejected=rejected)
        if counted:
            _count(batch, len(records), len(kept))
        _insert_batch(batch)
        inserted = 0
        if fresh:
            endpoints = endpoints_for(
                project, {(r.method, r.route): r.route_source or "derived" for r in fresh}
            )
            with connection.cursor() as cursor:
                if kept:
                    rows = _rows(project.id, batch.id, kept, endpoints)
                    if connection.vendor == "postgresql":
                        inserted = _insert_postgres(cursor, rows, straight)
                    else:
                        inserted = _insert_sqlite(cursor, rows)
                if left_out:
                    batch.sampled = _store_sampled(cursor, project.id, left_out, endpoints)
                    inserted += len(batch.sampled)
        if not counted:
            _count(batch, len(records), inserted)
            batch.save(
                update_fields=["accepted", "duplicates", "status", "processed_at", "sampled"]
            )
        if inserted and aggregate:
            transaction.on_commit(lambda: enqueue_aggregation(batch.id))
    return StoreResult(batch.id, inserted, len(records) - inserted)


_BATCH_FIELDS = [
    IngestBatch._meta.get_field(name)
    for name in (
        "project",
        "source",
        "status",
        "received_at",
        "processed_at",
        "accepted",
        "duplicates",
        "rejected",
        "attempts",
        "error",
        "sampled",
    )
]
_INSERT_BATCH = (
    f"INSERT INTO {IngestBatch._meta.db_table} "
    f"({', '.join(f.column for f in _BATCH_FIELDS)}) "
    f"VALUES ({', '.join(['%s'] * len(_BATCH_FIELDS))}) RETURNING id"
)


def _insert_batch(batch: IngestBatch) -> None:
    """`batch.save(force_insert=True)` in one plain statement: once per body, where the ORM's
    building of the INSERT cost several times the database's work. The values are prepared
    for the database by their fields, as save() does."""
    batch.received_at = timezone.now()
    values = [f.get_db_prep_save(getattr(batch, f.attname), connection) for f in _BATCH_FIELDS]
    with connection.cursor() as cursor:
        cursor.execute(_INSERT_BATCH, values)
        batch.id = cursor.fetchone()[0]
    batch._state.adding = False
    batch._state.db = connection.alias


def _count(batch: IngestBatch, records: int, inserted: int) -> None:
    batch.accepted = inserted
    batch.duplicates = records - inserted
    if inserted == 0:
        # Nothing new to count: the batch is finished as it stands.
        batch.status = IngestBatch.Status.DONE
        batch.processed_at = timezone.now()


def enqueue_aggregation(batch_id: int) -> None:
    """Ask a worker to aggregate the batch. The batch is committed, so a failure here loses
    nothing: the sweep finds pending batches every minute."""
    from monitor.tasks import aggregate_batch

    try:
        aggregate_batch.delay(batch_id)
    except Exception:  # noqa: BLE001 - broker down or in-process aggregation failed
        import logging

        logging.getLogger(__name__).warning(
            "batch %s left pending for the sweep", batch_id, exc_info=True
        )
