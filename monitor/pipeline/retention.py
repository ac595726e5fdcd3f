"""Retention: what `manage.py prune` and the daily beat task delete.

- Raw requests older than CONFLICTWATCH_RAW_RETENTION_DAYS go a whole UTC day at a time: rows
  are kept at least the retention, at most a day longer. On Postgres a day is a partition of
  `ingest_request` and goes with DROP TABLE (ingest/partitions.py); on SQLite a DELETE per day.
- Minute rollups (status, latency, the p95 per minute and the conflict-analysis ones) older than
  CONFLICTWATCH_ROLLUP_RETENTION_DAYS, by whole UTC days too.
- Hour and day rollups older than COARSE_RETENTION_DAYS (400).

Counts over old ranges stay exact: the reads take whole hours and days from the coarser rollups
(monitor/reads/grains.py: pieces), which are filled in the same transaction as the minute ones.
Idempotent: a second run the same day finds nothing to do.
"""

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import connection, transaction

from ingest import partitions
from ingest.models import Request
from monitor.pipeline import p95_minutes
from monitor.pipeline.rollups import GRAINS, TABLES, TOTALS
from monitor.rules.timebuckets import DAY, floor

log = logging.getLogger(__name__)
COARSE_RETENTION_DAYS = 400
# Every rollup table, by grain: minute tables, and the hour and day tables that fold them.
COARSE_TABLES = (
    *(table for coarser in GRAINS.values() for table, _ in coarser),
    *(table for table, _ in TOTALS.values()),
)
# (and the p95 per minute kept beside the minute histograms).
MINUTE_TABLES = (
    *(table for table in TABLES if table not in COARSE_TABLES),
    p95_minutes.TABLE,
)


def day_floor(t: datetime) -> datetime:
    return floor(t.astimezone(UTC), DAY)


@dataclass(frozen=True)
class Cutoffs:
    """Everything strictly before these instants (UTC midnights) goes."""

    raw: datetime
    minute: datetime
    coarse: datetime

    @classmethod
    def at(cls, now: datetime) -> "Cutoffs":
        return cls(
            raw=day_floor(now - timedelta(days=settings.CONFLICTWATCH_RAW_RETENTION_DAYS)),
            minute=day_floor(now - timedelta(days=settings.CONFLICTWATCH_ROLLUP_RETENTION_DAYS)),
            coarse=day_floor(now - timedelta(days=COARSE_RETENTION_DAYS)),
        )


@dataclass
class Report:
    cutoffs: Cutoffs
    # what -> rows (or partitions) deleted, or that would be with dry_run
    deleted: dict[str, int] = field(default_factory=dict)
    dropped_partitions: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [
            f"raw requests before {self.cutoffs.raw:%Y-%m-%d}, minute rollups before "
            f"{self.cutoffs.minute:%Y-%m-%d}, hour and day rollups before "
            f"{self.cutoffs.coarse:%Y-%m-%d}"
        ]
        out += [f"{what}: {n} rows" for what, n in self.deleted.items()]
        out += [f"partition {name}" for name in self.dropped_partitions]
        return out


def prune(now: datetime | None = None, *, dry_run: bool = False) -> Report:
    """Delete what is past retention (or, with dry_run, count it). Each day of raw rows and
    each table goes in its own transaction, so a long prune never holds locks for long."""
    now = now or datetime.now(UTC)
    cut = Cutoffs.at(now)
    report = Report(cut)
    report.deleted["ingest_request"] = _prune_raw(cut.raw, report, dry_run)
    # Keys of sampled-out reads (ingest/sampling.py) are kept as long as raw rows.
    report.deleted["ingest_sampled_key"] = _delete_before(
        "ingest_sampled_key", "ts", cut.raw, dry_run
    )
    for table in MINUTE_TABLES:
        report.deleted[table] = _delete_before(table, "minute", cut.minute, dry_run)
    for table in COARSE_TABLES:
        report.deleted[table] = _delete_before(table, "minute", cut.coarse, dry_run)
    if not dry_run:
        log.info("prune: %s", "; ".join(report.lines()))
    return report


def _prune_raw(cutoff: datetime, report: Report, dry_run: bool) -> int:
    if partitions.partitioned():
        total = 0
        for name, _, upper in partitions.existing():
            if upper <= cutoff:
                total += _count(name, None, None)
                report.dropped_partitions.append(name)
                if not dry_run:
                    partitions.drop(name)
        return total
    first = Request.objects.order_by("ts").values_list("ts", flat=True).first()
    if first is None or first >= cutoff:
        return 0
    total = 0
    day = day_floor(first)
    while day < cutoff:
        nxt = day + timedelta(days=1)
        total += _delete_range(Request._meta.db_table, "ts", day, nxt, dry_run)
        day = nxt
    return total


def _count(table: str, column: str | None, before: datetime | None) -> int:
    with connection.cursor() as cursor:
        if column is None:
            cursor.execute(f"SELECT COUNT(*) FROM {table}")
        else:
            cursor.execute(f"SELECT COUNT(*) FROM {table} WHERE {column} < %s", [before])
        return cursor.fetchone()[0]


def _delete_range(table: str, column: str, lo: datetime, hi: datetime, dry_run: bool) -> int:
    with transaction.atomic(), connection.cursor() as cursor:
        verb = "SELECT COUNT(*) FROM" if dry_run else "DELETE FROM"
        cursor.execute(f"{verb} {table} WHERE {column} >= %s AND {column} < %s", [lo, hi])
        return cursor.fetchone()[0] if dry_run else cursor.rowcount


def _delete_before(table: str, column: str, cutoff: datetime, dry_run: bool) -> int:
    if dry_run:
        return _count(table, column, cutoff)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {table} WHERE {column} < %s", [cutoff])
        return cursor.rowcount
