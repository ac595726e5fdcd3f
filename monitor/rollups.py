"""Additive rollup upserts.

Counts are built in Python, keys are sorted (so concurrent workers take row locks in one order
and cannot deadlock), then one INSERT … ON CONFLICT … DO UPDATE SET n = t.n + excluded.n per
table adds them. Postgres receives each column as one array (unnest), so the statement has a
fixed handful of parameters whatever the number of rows; SQLite gets multi-row VALUES.

Grains: the status and latency rollups exist per minute, hour and day (`GRAINS`). `add` and
`drop_empty` take the minute table's counts and apply them to the hour and day tables too, in
the same transaction (keys folded onto the hour or day, then sorted): every table is written
minute → hour → day, so the lock order stays one for all workers, and a move between minutes
(a late race winner) moves the hour and day counts with it.
"""

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from django.db import connection

from ingest.prepared import prepared_cursor

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

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
# Minute table -> its coarser tables with the width of their buckets. The coarser tables have
# the same columns; their `minute` is the first minute of the hour or day.
GRAINS: dict[str, tuple[tuple[str, timedelta], ...]] = {
    "monitor_rollup_status_minute": (
        ("monitor_rollup_status_hour", HOUR),
        ("monitor_rollup_status_day", DAY),
    ),
    "monitor_rollup_latency_minute": (
        ("monitor_rollup_latency_hour", HOUR),
        ("monitor_rollup_latency_day", DAY),
    ),
}
for _minute_table, _coarser in GRAINS.items():
    for _table, _ in _coarser:
        TABLES[_table] = TABLES[_minute_table]


def truncate(t: datetime, width: timedelta) -> datetime:
    """The start of the UTC hour or day that holds `t`."""
    if width == DAY:
        return t.replace(hour=0, minute=0, second=0, microsecond=0)
    return t.replace(minute=0, second=0, microsecond=0)


def _time_index(table: str) -> int:
    return [name for name, _ in TABLES[table][0]].index("minute")


def fold(table: str, counts: Mapping[tuple, Sequence[float]], width: timedelta) -> dict:
    """The counts of a minute table summed onto hour or day keys."""
    i = _time_index(table)
    folded: dict[tuple, list] = {}
    for key, values in counts.items():
        coarse = key[:i] + (truncate(key[i], width),) + key[i + 1 :]
        acc = folded.get(coarse)
        if acc is None:
            folded[coarse] = list(values)
        else:
            for j, v in enumerate(values):
                acc[j] += v
    return folded


def add(table: str, counts: Mapping[tuple, Sequence[float]]) -> None:
    """Add `counts` ({key tuple: value tuple}) to the rollup table, and to its hour and day
    tables when it has them."""
    if not counts:
        return
    _add(table, counts)
    for coarse_table, width in GRAINS.get(table, ()):
        _add(coarse_table, fold(table, counts, width))


def _add(table: str, counts: Mapping[tuple, Sequence[float]]) -> None:
    keys, values = TABLES[table]
    key_names = ", ".join(name for name, _ in keys)
    cols = ", ".join(name for name, _ in keys + values)
    updates = ", ".join(f"{v} = {table}.{v} + excluded.{v}" for v, _ in values)
    conflict = f"ON CONFLICT ({key_names}) DO UPDATE SET {updates}"
    rows = [(*key, *vals) for key, vals in sorted(counts.items())]
    if connection.vendor == "postgresql":
        arrays = ", ".join(f"%b::{sql_type}[]" for _, sql_type in keys + values)
        with prepared_cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {table} ({cols}) SELECT * FROM unnest({arrays}) {conflict}",
                [list(column) for column in zip(*rows, strict=True)],
            )
        return
    with connection.cursor() as cursor:
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
    transaction adds to later are simply inserted again by its upsert. The hour and day rows
    holding these keys are checked too."""
    keys = sorted(set(keys))
    if not keys:
        return
    _drop_empty(table, keys)
    for coarse_table, width in GRAINS.get(table, ()):
        i = _time_index(table)
        _drop_empty(
            coarse_table,
            sorted({k[:i] + (truncate(k[i], width),) + k[i + 1 :] for k in keys}),
        )


def _drop_empty(table: str, keys: list) -> None:
    key_cols, _ = TABLES[table]
    names = ", ".join(name for name, _ in key_cols)
    if connection.vendor == "postgresql":
        arrays = ", ".join(f"%b::{sql_type}[]" for _, sql_type in key_cols)
        with prepared_cursor() as cursor:
            cursor.execute(
                f"DELETE FROM {table} WHERE n = 0 AND ({names}) IN "
                f"(SELECT * FROM unnest({arrays}))",
                [list(column) for column in zip(*keys, strict=True)],
            )
        return
    with connection.cursor() as cursor:
        adapt = connection.ops.adapt_datetimefield_value
        match = " AND ".join(f"{name} = %s" for name, _ in key_cols)
        cursor.executemany(
            f"DELETE FROM {table} WHERE n = 0 AND {match}",
            [tuple(adapt(v) if isinstance(v, datetime) else v for v in key) for key in keys],
        )
