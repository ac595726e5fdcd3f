"""Daily partitions of the raw request table on Postgres.

`ingest_request` is `PARTITION BY RANGE (ts)` with one partition per UTC day, named
`ingest_request_pYYYYMMDD` (ingest/migrations/0003_partition_requests_by_day.py converts an
existing table), each with FILLFACTOR. Partitions are created:

- ahead, for today and the next two days, by beat (`monitor.tasks.create_partitions`) and by
  `migrate` (post_migrate, ingest/apps.py);
- on demand by ingest for the days a batch needs (`ensure`, before the batch's transaction,
  so that the DDL's lock on the parent is held only for the moment it takes).

Only days inside the kept range are ever made (ingest/time_bounds.py: from the longest age a
backfill may accept to two days ahead): normalize rejects records outside it, and `ensure`
refuses such a day outright, so no sender can fill the catalog with partitions.

Each process remembers the partitions it has seen. Retention drops whole partitions
(monitor/pipeline/retention.py); a process may still remember a dropped one, so days before the raw
retention are never remembered and always checked.

A long import (`importlog`) keeps the planner's statistics of the partitions it fills
current (`Statistics`): a fresh partition has none until autovacuum analyses it, and the
conflict lookups, prepared once with a generic plan, would keep reading it through a plan made
for an empty table, slower with every row stored.

On SQLite (and on a Postgres table not converted) every function is a no-op.
"""

import re
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta

from django.conf import settings
from django.db import connection

from ingest import time_bounds

PARENT = "ingest_request"
# Each page keeps a tenth free, so that aggregation's write-back onto a conflict just stored
# (its cause, race winner, retry outcome) fits in the same page: a HOT update, which adds no
# index entries. Costs about a tenth more disk for the raw table.
FILLFACTOR = 90
_NAME = re.compile(r"^ingest_request_p(\d{8})$")
_known: set[date] = set()


def partitioned() -> bool:
    """True when the raw table is a partitioned table (Postgres after the migration)."""
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        cursor.execute("SELECT relkind FROM pg_class WHERE relname = %s", [PARENT])
        row = cursor.fetchone()
    return bool(row) and row[0] == "p"


def name_for(day: date) -> str:
    return f"{PARENT}_p{day:%Y%m%d}"


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def existing() -> list[tuple[str, datetime, datetime]]:
    """(name, lower, upper) of every daily partition, oldest first."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = %s",
            [PARENT],
        )
        names = sorted(row[0] for row in cursor.fetchall())
    out = []
    for name in names:
        match = _NAME.match(name)
        if match:
            day = datetime.strptime(match.group(1), "%Y%m%d").date()
            out.append((name, _midnight(day), _midnight(day + timedelta(days=1))))
    return out


def _cacheable(day: date) -> bool:
    oldest_kept = datetime.now(UTC).date() - timedelta(
        days=settings.CONFLICTWATCH_RAW_RETENTION_DAYS - 1
    )
    return day >= oldest_kept


def ensure(days: Iterable[date]) -> list[str]:
    """Create the partitions of these UTC days that do not exist yet; returns those created.
    Safe to run from many processes at once."""
    wanted = sorted(set(days) - _known)
    if not wanted or not partitioned():
        return []
    first, last = time_bounds.partition_days()
    if wanted[0] < first or wanted[-1] > last:
        outside = [str(d) for d in wanted if not first <= d <= last]
        raise ValueError(f"no partition outside {first} to {last}: {', '.join(outside[:5])}")
    created = []
    with connection.cursor() as cursor:
        for day in wanted:
            name = name_for(day)
            cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [name])
            if not cursor.fetchone()[0]:
                lower, upper = _midnight(day), _midnight(day + timedelta(days=1))
                # Two processes may create the same day at once: the loser's IF NOT EXISTS
                # can still fail on the catalog's unique index, which means it exists.
                try:
                    with connection.cursor() as inner, _savepoint():
                        inner.execute(
                            f"CREATE TABLE IF NOT EXISTS {name} PARTITION OF {PARENT} "
                            f"FOR VALUES FROM (%s) TO (%s) WITH (fillfactor = {FILLFACTOR})",
                            [lower.isoformat(), upper.isoformat()],
                        )
                    created.append(name)
                except Exception:  # noqa: BLE001 - re-checked just below
                    cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [name])
                    if not cursor.fetchone()[0]:
                        raise
            # Inside a transaction the partition may yet be rolled back: check again next time.
            if _cacheable(day) and not connection.in_atomic_block:
                _known.add(day)
    return created


def _savepoint():
    from django.db import transaction

    return transaction.atomic()


def ensure_ahead(now: datetime | None = None, days: int = 3) -> list[str]:
    """Today's partition and the next ones (records may be dated up to tomorrow)."""
    today = (now or datetime.now(UTC)).astimezone(UTC).date()
    return ensure(today + timedelta(days=i) for i in range(days))


def drop(name: str) -> None:
    """Drop one daily partition (retention)."""
    match = _NAME.match(name)
    if not match:
        raise ValueError(f"not a daily partition of {PARENT}: {name}")
    with connection.cursor() as cursor:
        # Deferred foreign-key checks of rows written earlier in this transaction must run
        # first: Postgres refuses to drop a table with pending trigger events.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(f"DROP TABLE IF EXISTS {name}")
    _known.discard(datetime.strptime(match.group(1), "%Y%m%d").date())


# The rows an import stores into a day's partition before it is first analysed; it is
# analysed again each time they double, so a million rows cost some ten ANALYZEs (each
# reads a sample of at most 30,000 rows, a fraction of a second).
FIRST_ANALYZE = 2000


class Statistics:
    """Keeps the planner's statistics of the day partitions one import fills: `stored(days)`
    after each batch that stored rows, with {day: records of the batch}."""

    def __init__(self):
        self._stored: Counter[date] = Counter()
        self._next: dict[date, int] = {}
        self._partitioned: bool | None = None

    def stored(self, days: Counter[date]) -> list[str]:
        """Count the batch's records ({day: records}); ANALYZE the partitions whose count
        reached its next threshold. Returns the partitions analysed."""
        self._stored.update(days)
        due = [
            day
            for day, rows in self._stored.items()
            if rows >= self._next.setdefault(day, FIRST_ANALYZE)
        ]
        if not due:
            return []
        if self._partitioned is None:
            self._partitioned = partitioned()
        analysed = []
        for day in sorted(due):
            self._next[day] = 2 * self._stored[day]
            if not self._partitioned:
                continue
            name = name_for(day)
            with connection.cursor() as cursor:
                # A partition dropped meanwhile (retention) has nothing left to analyse.
                cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [name])
                if cursor.fetchone()[0]:
                    cursor.execute(f"ANALYZE {name}")
                    analysed.append(name)
        return analysed
