"""The write-back of the conflict analysis's decisions onto stored raw rows: the only place
that changes a request after ingest stored it.

No index names these columns (ingest/models.py), so on Postgres each update is a HOT update in
its day partition.
"""

from datetime import datetime
from typing import NamedTuple

from django.db import connection

from ingest.models import Request
from ingest.prepared import prepared_cursor

_TABLE = Request._meta.db_table


class Decided(NamedTuple):
    """What a conflict row holds once a batch (or the finalizer) decided it."""

    id: int
    ts: datetime  # with id, the raw table's key (ts finds the day partition)
    cause: str
    cause_reason: str
    race_winner_id: int | None
    retry_outcome: str | None
    resolved_after_ms: float | None
    next_attempt_ms: float | None


COLUMNS = Decided._fields[2:]
# The SQL array types of the columns, from the model's own fields.
_TYPES = {
    "CharField": "text",
    "TextField": "text",
    "ForeignKey": "bigint",
    "FloatField": "float8",
}
_SQL_TYPES = tuple(
    _TYPES[Request._meta.get_field(name.removesuffix("_id")).get_internal_type()]
    for name in COLUMNS
)


def write_back(rows: list[Decided]) -> None:
    """Set the analysis columns of these requests: one statement on Postgres (UPDATE … FROM
    unnest, joined on the (id, ts) key so that each row is one index probe in its day
    partition), one executemany on SQLite. Rows go in id order: one lock order for every
    worker."""
    if not rows:
        return
    rows = sorted(rows)
    if connection.vendor == "postgresql":
        arrays = ", ".join(f"%b::{t}[]" for t in ("bigint", "timestamptz", *_SQL_TYPES))
        names = ", ".join(Decided._fields)
        sets = ", ".join(f"{c} = v.{c}" for c in COLUMNS)
        with prepared_cursor() as cursor:
            cursor.execute(
                f"UPDATE {_TABLE} AS r SET {sets} FROM unnest({arrays}) AS v({names}) "
                "WHERE r.id = v.id AND r.ts = v.ts",
                [list(col) for col in zip(*rows, strict=True)],
            )
        return
    sets = ", ".join(f"{c} = %s" for c in COLUMNS)
    with connection.cursor() as cursor:
        cursor.executemany(
            f"UPDATE {_TABLE} SET {sets} WHERE id = %s", [(*row[2:], row.id) for row in rows]
        )
