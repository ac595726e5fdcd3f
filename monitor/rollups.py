"""Additive rollup upserts.

Counts are built in Python, keys are sorted (so concurrent workers take row locks in one order
and cannot deadlock), then one INSERT … ON CONFLICT … DO UPDATE SET n = t.n + excluded.n per
table adds them. Postgres receives each column as one array (unnest), so the statement has a
fixed handful of parameters whatever the number of rows; SQLite gets multi-row VALUES.
"""

from collections.abc import Mapping, Sequence
from datetime import datetime

from django.db import connection

# Whitelist: table -> (key columns, additive value columns), each column with its SQL type.
TABLES: dict[str, tuple[tuple[tuple[str, str], ...], tuple[tuple[str, str], ...]]] = {
    "monitor_rollup_status_minute": (
        (
            ("project_id", "bigint"),
            ("minute", "timestamptz"),
            ("endpoint_id", "bigint"),
            ("status", "smallint"),
            ("cause", "text"),
        ),
        (
            ("n", "bigint"),
            ("duration_ms_sum", "float8"),
            ("writes", "bigint"),
            ("conditional_writes", "bigint"),
        ),
    ),
    "monitor_rollup_latency_minute": (
        (
            ("project_id", "bigint"),
            ("minute", "timestamptz"),
            ("endpoint_id", "bigint"),
            ("bucket", "smallint"),
        ),
        (("n", "bigint"),),
    ),
    # Conflict intelligence (monitor/conflict_analysis.py).
    "monitor_rollup_client_minute": (
        (
            ("project_id", "bigint"),
            ("minute", "timestamptz"),
            ("endpoint_id", "bigint"),
            ("client", "text"),
        ),
        (
            ("requests", "bigint"),
            ("conflicts", "bigint"),
            ("suffered", "bigint"),
            ("caused", "bigint"),
            ("writes", "bigint"),
            ("conditional_writes", "bigint"),
            ("weak_etag_writes", "bigint"),
            ("creates", "bigint"),
            ("creates_without_key", "bigint"),
        ),
    ),
    "monitor_rollup_outcome_minute": (
        (
            ("project_id", "bigint"),
            ("minute", "timestamptz"),
            ("endpoint_id", "bigint"),
            ("client", "text"),
            ("cause", "text"),
            ("outcome", "text"),
        ),
        (("n", "bigint"), ("resolved_ms_sum", "float8")),
    ),
    "monitor_rollup_resource_minute": (
        (
            ("project_id", "bigint"),
            ("minute", "timestamptz"),
            ("endpoint_id", "bigint"),
            ("resource", "text"),
            ("cause", "text"),
        ),
        (("n", "bigint"),),
    ),
    "monitor_rollup_race_minute": (
        (
            ("project_id", "bigint"),
            ("resource", "text"),
            ("minute", "timestamptz"),
            ("winner", "text"),
            ("loser", "text"),
        ),
        (("n", "bigint"),),
    ),
}
SQLITE_CHUNK = 500


def add(table: str, counts: Mapping[tuple, Sequence[float]]) -> None:
    """Add `counts` ({key tuple: value tuple}) to the rollup table."""
    if not counts:
        return
    keys, values = TABLES[table]
    key_names = ", ".join(name for name, _ in keys)
    cols = ", ".join(name for name, _ in keys + values)
    updates = ", ".join(f"{v} = {table}.{v} + excluded.{v}" for v, _ in values)
    conflict = f"ON CONFLICT ({key_names}) DO UPDATE SET {updates}"
    rows = [(*key, *vals) for key, vals in sorted(counts.items())]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            arrays = ", ".join(f"%s::{sql_type}[]" for _, sql_type in keys + values)
            cursor.execute(
                f"INSERT INTO {table} ({cols}) SELECT * FROM unnest({arrays}) {conflict}",
                [list(column) for column in zip(*rows, strict=True)],
            )
            return
        adapt = connection.ops.adapt_datetimefield_value
        rows = [tuple(adapt(v) if isinstance(v, datetime) else v for v in row) for row in rows]
        marks = "(" + ", ".join(["%s"] * len(keys + values)) + ")"
        for start in range(0, len(rows), SQLITE_CHUNK):
            chunk = rows[start : start + SQLITE_CHUNK]
            cursor.execute(
                f"INSERT INTO {table} ({cols}) VALUES {', '.join([marks] * len(chunk))} {conflict}",
                [v for row in chunk for v in row],
            )


def drop_empty(table: str, keys) -> None:
    """Delete the rows of these keys whose count (`n`) a move brought back to zero, so that a
    cause or outcome that no longer has conflicts does not show up with 0. Rows another
    transaction adds to later are simply inserted again by its upsert."""
    keys = sorted(set(keys))
    if not keys:
        return
    key_cols, _ = TABLES[table]
    names = ", ".join(name for name, _ in key_cols)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            arrays = ", ".join(f"%s::{sql_type}[]" for _, sql_type in key_cols)
            cursor.execute(
                f"DELETE FROM {table} WHERE n = 0 AND ({names}) IN "
                f"(SELECT * FROM unnest({arrays}))",
                [list(column) for column in zip(*keys, strict=True)],
            )
            return
        adapt = connection.ops.adapt_datetimefield_value
        match = " AND ".join(f"{name} = %s" for name, _ in key_cols)
        cursor.executemany(
            f"DELETE FROM {table} WHERE n = 0 AND {match}",
            [tuple(adapt(v) if isinstance(v, datetime) else v for v in key) for key in keys],
        )
