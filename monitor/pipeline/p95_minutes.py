"""The project-wide p95 of each minute (monitor_rollup_project_p95_minute), kept with the
minute histograms by the transaction that adds to them.

A day of p95 per minute is otherwise some 140,000 histogram rows summed into 1,440 arrays per
call; read from this table it is 1,440 rows. What is stored is the latency bucket that holds
the rank, found by the rule of monitor/rules/latency.py (the first bucket, in bucket order,
whose running count reaches q × total, compared in double precision as Python does), so the
value read (bucket_value_ms of it) is the one the histogram walk gives.

For every minute a batch adds to, the p95 is recomputed from the whole minute histogram after
the upsert (`refresh`): exact whatever the batch held. Two transactions adding to the same
minute could each see the histogram without the other's rows and store a stale p95, so the
minute's p95 row is locked first (`hold`, an upsert that inserts it or locks it), before the
histogram upsert: a second transaction waits there until the first commits, and then sees its
rows. `hold` runs at one place of the write order (right before the project-wide minute
histogram), on minutes in order, so the lock order stays one for every worker.
"""

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime

from django.db import connection

from ingest.prepared import prepared_cursor
from monitor.models import ProjectLatencyRollup, ProjectP95Minute

Q = 0.95
TABLE = ProjectP95Minute._meta.db_table
HISTOGRAMS = ProjectLatencyRollup._meta.db_table
SQLITE_CHUNK = 500

# The rank's bucket and the total of each minute histogram matched by `where` (placeholders:
# those of `where`, then q).
RANKED = f"""
    SELECT project_id, minute, MIN(total) AS total, MIN(bucket) AS bucket FROM (
        SELECT project_id, minute, bucket,
               SUM(n) OVER (PARTITION BY project_id, minute ORDER BY bucket) AS seen,
               SUM(n) OVER (PARTITION BY project_id, minute) AS total
        FROM {HISTOGRAMS} WHERE {{where}}
    ) AS w
    WHERE CAST(seen AS {{real}}) >= CAST(%s AS {{real}}) * CAST(total AS {{real}})
    GROUP BY project_id, minute
"""


def _by_project(keys: Iterable[tuple]) -> dict[int, list[datetime]]:
    """The minutes of histogram keys (project_id, minute, bucket), per project, in order."""
    minutes: dict[int, set] = defaultdict(set)
    for key in keys:
        minutes[key[0]].add(key[1])
    return {p: sorted(ms) for p, ms in sorted(minutes.items())}


def hold(keys: Iterable[tuple]) -> None:
    """Insert or lock the p95 rows of the minutes these histogram keys fall in, until the
    transaction ends."""
    for project_id, minutes in _by_project(keys).items():
        if connection.vendor == "postgresql":
            with prepared_cursor() as cursor:
                cursor.execute(
                    f"INSERT INTO {TABLE} (project_id, minute, requests, bucket) "
                    f"SELECT %b::bigint, m, 0, 0 FROM unnest(%b::timestamptz[]) AS m "
                    f"ON CONFLICT (project_id, minute) DO UPDATE SET requests = {TABLE}.requests",
                    [project_id, minutes],
                )
            continue
        # SQLite: one writer at a time, nothing to lock; the rows are made for `refresh`.
        adapt = connection.ops.adapt_datetimefield_value
        with connection.cursor() as cursor:
            for start in range(0, len(minutes), SQLITE_CHUNK):
                chunk = minutes[start : start + SQLITE_CHUNK]
                cursor.execute(
                    f"INSERT INTO {TABLE} (project_id, minute, requests, bucket) VALUES "
                    + ", ".join(["(%s, %s, 0, 0)"] * len(chunk))
                    + " ON CONFLICT (project_id, minute) DO NOTHING",
                    [v for m in chunk for v in (project_id, adapt(m))],
                )


def refresh(keys: Iterable[tuple]) -> None:
    """Recompute the p95 of the minutes these histogram keys fall in (after `hold` and the
    histogram upsert, in the same transaction)."""
    for project_id, minutes in _by_project(keys).items():
        if connection.vendor == "postgresql":
            ranked = RANKED.format(
                where="project_id = %b AND minute = ANY(%b::timestamptz[])", real="float8"
            ).replace("%s", "%b")
            with prepared_cursor() as cursor:
                # The ranks are computed once (MATERIALIZED: never again per row of p), and
                # p's rows found by their key, not by a scan of the table.
                cursor.execute(
                    f"WITH c AS MATERIALIZED ({ranked}) "
                    f"UPDATE {TABLE} AS p SET requests = c.total, bucket = c.bucket FROM c "
                    "WHERE p.project_id = c.project_id AND p.minute = c.minute "
                    "AND p.project_id = %b AND p.minute = ANY(%b::timestamptz[])",
                    [project_id, minutes, Q, project_id, minutes],
                )
            continue
        adapt = connection.ops.adapt_datetimefield_value
        with connection.cursor() as cursor:
            for start in range(0, len(minutes), SQLITE_CHUNK):
                chunk = minutes[start : start + SQLITE_CHUNK]
                marks = ", ".join(["%s"] * len(chunk))
                ranked = RANKED.format(
                    where=f"project_id = %s AND minute IN ({marks})", real="REAL"
                )
                cursor.execute(
                    f"UPDATE {TABLE} SET requests = c.total, bucket = c.bucket "
                    f"FROM ({ranked}) AS c "
                    f"WHERE {TABLE}.project_id = c.project_id AND {TABLE}.minute = c.minute",
                    [project_id, *(adapt(m) for m in chunk), Q],
                )
