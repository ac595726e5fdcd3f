"""Additive rollup upserts, the same SQL on Postgres and SQLite.

Counts are built in Python, keys are sorted (so concurrent workers take row locks in one order
and cannot deadlock), then one INSERT … ON CONFLICT … DO UPDATE SET n = t.n + excluded.n per
table adds them.
"""

from collections.abc import Mapping, Sequence
from datetime import datetime

from django.db import connection

# Whitelist: table -> (key columns, additive value columns).
TABLES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "monitor_rollup_status_minute": (
        ("project_id", "minute", "endpoint_id", "status", "cause"),
        ("n", "duration_ms_sum", "writes", "conditional_writes"),
    ),
    "monitor_rollup_latency_minute": (
        ("project_id", "minute", "endpoint_id", "bucket"),
        ("n",),
    ),
}
CHUNK = 500


def add(table: str, counts: Mapping[tuple, Sequence[float]]) -> None:
    """Add `counts` ({key tuple: value tuple}) to the rollup table."""
    keys, values = TABLES[table]
    cols = keys + values
    updates = ", ".join(f"{v} = {table}.{v} + excluded.{v}" for v in values)
    items = sorted(counts.items())
    adapt = connection.ops.adapt_datetimefield_value
    with connection.cursor() as cursor:
        for start in range(0, len(items), CHUNK):
            chunk = items[start : start + CHUNK]
            row = "(" + ", ".join(["%s"] * len(cols)) + ")"
            params: list = []
            for key, vals in chunk:
                params.extend(adapt(k) if isinstance(k, datetime) else k for k in key)
                params.extend(vals)
            cursor.execute(
                f"INSERT INTO {table} ({', '.join(cols)}) VALUES "
                + ", ".join([row] * len(chunk))
                + f" ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {updates}",
                params,
            )
