"""Additive rollup upserts.

Counts are built in Python, keys are sorted (so concurrent workers take row locks in one order
and cannot deadlock), then one INSERT … ON CONFLICT … DO UPDATE SET n = t.n + excluded.n per
table adds them. Postgres receives each column as one array (unnest), so the statement has a
fixed handful of parameters whatever the number of rows; SQLite gets multi-row VALUES.

Grains: every rollup exists per minute, hour and day (`GRAINS`): status, latency and the
conflict analysis's client, outcome, resource and race-pair counts. `add` and
`drop_empty` take the minute table's counts and apply them to the hour and day tables too, in
the same transaction (keys folded onto the hour or day, then sorted): every table is written
minute → hour → day, so the lock order stays one for all workers, and a move between minutes
(a late race winner) moves the hour and day counts with it.

The project-wide minute histograms also keep each minute's p95 (monitor/pipeline/p95_minutes.py),
recomputed in the same transaction for the minutes a batch adds to.
"""

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from django.db import connection, models

from ingest.prepared import prepared_cursor
from monitor.models import (
    ClientDayRollup,
    ClientHourRollup,
    ClientRollup,
    LatencyDayRollup,
    LatencyHourRollup,
    LatencyRollup,
    OutcomeDayRollup,
    OutcomeHourRollup,
    OutcomeRollup,
    ProjectLatencyDayRollup,
    ProjectLatencyHourRollup,
    ProjectLatencyRollup,
    RacePairDayRollup,
    RacePairHourRollup,
    RacePairRollup,
    ResourceDayRollup,
    ResourceHourRollup,
    ResourceRollup,
    ResourceTotalDayRollup,
    StatusDayRollup,
    StatusHourRollup,
    StatusRollup,
)
from monitor.pipeline import p95_minutes
from monitor.rules.timebuckets import DAY, HOUR, floor

# The SQL array types the columns are sent as on Postgres, by Django field type.
_ARRAY_TYPES = {
    "ForeignKey": "bigint",
    "BigIntegerField": "bigint",
    "SmallIntegerField": "smallint",
    "DateTimeField": "timestamptz",
    "CharField": "text",
    "TextField": "text",
    "FloatField": "float8",
}

Columns = tuple[tuple[str, str], ...]


def _columns(model: type[models.Model]) -> tuple[Columns, Columns]:
    """(key columns, additive value columns) of a rollup model, each as (column, SQL type):
    the key is the model's unique constraint in its field order, the values every other
    column. A count's key tuple and value tuple follow these orders."""
    (unique,) = model._meta.constraints
    by_name = {f.name: f for f in model._meta.concrete_fields}
    key = tuple(by_name[name] for name in unique.fields)
    values = tuple(f for f in model._meta.concrete_fields if f not in key and not f.primary_key)
    return tuple((f.column, _ARRAY_TYPES[f.get_internal_type()]) for f in key), tuple(
        (f.column, _ARRAY_TYPES[f.get_internal_type()]) for f in values
    )


# Every rollup model by grain: (minute, hour, day).
MODELS_BY_GRAIN = (
    (StatusRollup, StatusHourRollup, StatusDayRollup),
    (LatencyRollup, LatencyHourRollup, LatencyDayRollup),
    (ProjectLatencyRollup, ProjectLatencyHourRollup, ProjectLatencyDayRollup),
    (ClientRollup, ClientHourRollup, ClientDayRollup),
    (OutcomeRollup, OutcomeHourRollup, OutcomeDayRollup),
    (ResourceRollup, ResourceHourRollup, ResourceDayRollup),
    (RacePairRollup, RacePairHourRollup, RacePairDayRollup),
)

# Tables of a coarse table's counts summed over some of its key columns, written right after
# it: coarse table -> (totals table, the key columns summed over).
TOTALS: dict[str, tuple[str, tuple[str, ...]]] = {
    ResourceDayRollup._meta.db_table: (
        ResourceTotalDayRollup._meta.db_table,
        ("endpoint_id", "cause"),
    ),
}

# Whitelist: table -> (key columns, additive value columns), declared by the models.
TABLES: dict[str, tuple[Columns, Columns]] = {
    m._meta.db_table: _columns(m)
    for m in [*(m for models_ in MODELS_BY_GRAIN for m in models_), ResourceTotalDayRollup]
}
SQLITE_CHUNK = 500

# Minute table -> its coarser tables with the width of their buckets. The coarser tables have
# the same columns; their `minute` is the first minute of the hour or day.
GRAINS: dict[str, tuple[tuple[str, timedelta], ...]] = {
    minute._meta.db_table: ((hour._meta.db_table, HOUR), (day._meta.db_table, DAY))
    for minute, hour, day in MODELS_BY_GRAIN
}


# Minute table -> the project-wide minute table whose counts are its own without the endpoint
# (written right after it, with its own hour and day tables).
PROJECT_WIDE: dict[str, str] = {
    LatencyRollup._meta.db_table: ProjectLatencyRollup._meta.db_table,
}


def value_names(table: str) -> tuple[str, ...]:
    """The names of a table's value columns, in the order of its value tuples."""
    return tuple(name for name, _ in TABLES[table][1])


def _time_index(table: str) -> int:
    return [name for name, _ in TABLES[table][0]].index("minute")


def fold(table: str, counts: Mapping[tuple, Sequence[float]], width: timedelta) -> dict:
    """The counts of a minute table summed onto hour or day keys."""
    i = _time_index(table)
    folded: dict[tuple, list] = {}
    floors: dict[datetime, datetime] = {}  # the keys hold few distinct minutes
    for key, values in counts.items():
        minute = key[i]
        start = floors.get(minute)
        if start is None:
            start = floors[minute] = floor(minute, width)
        coarse = key[:i] + (start,) + key[i + 1 :]
        acc = folded.get(coarse)
        if acc is None:
            folded[coarse] = list(values)
        else:
            for j, v in enumerate(values):
                acc[j] += v
    return folded


def without_endpoint(table: str, counts: Mapping[tuple, Sequence[float]]) -> dict:
    """The counts of a table keyed by endpoint summed over the endpoints."""
    return summed_over(table, counts, ("endpoint_id",))


def summed_over(
    table: str, counts: Mapping[tuple, Sequence[float]], columns: Sequence[str]
) -> dict:
    """The counts of a table summed over some of its key columns (keys without them)."""
    names = [name for name, _ in TABLES[table][0]]
    kept = [i for i, name in enumerate(names) if name not in columns]
    summed: dict[tuple, list] = {}
    for key, values in counts.items():
        wide = tuple(key[i] for i in kept)
        acc = summed.get(wide)
        if acc is None:
            summed[wide] = list(values)
        else:
            for j, v in enumerate(values):
                acc[j] += v
    return summed


def add(table: str, counts: Mapping[tuple, Sequence[float]], copy: bool = False) -> None:
    """Add `counts` ({key tuple: value tuple}) to the rollup table, and to its hour and day
    tables when it has them (each coarse table followed by its totals table, `TOTALS`), then
    to its project-wide table and that one's grains. `copy`: on Postgres, outside a pipeline,
    many counts go through COPY (`_add_copied`)."""
    if not counts:
        return
    if table == p95_minutes.HISTOGRAMS:
        # The minutes' p95 rows are locked before their histograms change, recomputed after.
        p95_minutes.hold(counts)
        _add(table, counts, copy)
        p95_minutes.refresh(counts)
    else:
        _add(table, counts, copy)
    coarse = counts
    for coarse_table, width in GRAINS.get(table, ()):
        # Each grain is folded from the one before it (the day from the hours): fewer keys.
        coarse = fold(table, coarse, width)
        _add(coarse_table, coarse, copy)
        if coarse_table in TOTALS:
            totals_table, over = TOTALS[coarse_table]
            _add(totals_table, summed_over(coarse_table, coarse, over), copy)
    if table in PROJECT_WIDE:
        add(PROJECT_WIDE[table], without_endpoint(table, counts), copy)


# Counts from which `_add(copy=True)` COPYs them rather than sending them as arrays.
COPY_FROM = 2000


def _add(table: str, counts: Mapping[tuple, Sequence[float]], copy: bool = False) -> None:
    keys, values = TABLES[table]
    key_names = ", ".join(name for name, _ in keys)
    cols = ", ".join(name for name, _ in keys + values)
    updates = ", ".join(f"{v} = {table}.{v} + excluded.{v}" for v, _ in values)
    conflict = f"ON CONFLICT ({key_names}) DO UPDATE SET {updates}"
    if connection.vendor == "postgresql" and copy and len(counts) >= COPY_FROM:
        _add_copied(table, cols, conflict, counts)
        return
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


def _add_copied(
    table: str, cols: str, conflict: str, counts: Mapping[tuple, Sequence[float]]
) -> None:
    """The upsert of many counts (a backfill's): COPYed in binary into a temp table, then added
    from there in one statement. Building the arrays of `_add` costs Python some microseconds
    per value; COPY's rows are written by psycopg's C code. Postgres sorts them (`lock_order`)
    faster than Python sorts tuples of datetimes and text, so the row locks are taken in the
    order `_add` takes them without Python sorting them."""
    keys, values = TABLES[table]
    temp = f"cw_adding_{table}"
    with connection.wrap_database_errors, connection.connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {temp} ON COMMIT DELETE ROWS "
            f"AS SELECT {cols} FROM {table} WITH NO DATA"
        )
        with cursor.copy(f"COPY {temp} ({cols}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types([sql_type for _, sql_type in keys + values])
            for key, vals in counts.items():
                copy.write_row((*key, *vals))
        cursor.execute(
            f"INSERT INTO {table} ({cols}) SELECT {cols} FROM {temp} "
            f"ORDER BY {lock_order(table)} {conflict}"
        )
        cursor.execute(f"TRUNCATE {temp}")


def lock_order(table: str) -> str:
    """ORDER BY the table's key columns as Python sorts the key tuples: numbers and instants
    compare alike, and text compares by code point, which is the byte order of UTF-8 (the "C"
    collation), not the database's locale order."""
    return ", ".join(
        f'{name} COLLATE "C"' if sql_type == "text" else name for name, sql_type in TABLES[table][0]
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
            sorted({k[:i] + (floor(k[i], width),) + k[i + 1 :] for k in keys}),
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
