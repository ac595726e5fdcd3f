"""Time grains of the rollups: which rollup rows (minute, hour or day) cover a range, and the
SQL that floors a timestamp column to a bucket (the database twin of
monitor/rules/timebuckets.py: floor).

Rollups exist per minute, hour and day (monitor/pipeline/rollups.py). A range is read as
pieces (`pieces`): minutes at its ragged edges, whole hours next to them and whole days in the
middle, so totals are exact while a 30-day summary reads about 30 day rows per key instead of
43,200 minute rows. Minute rollups are kept CONFLICTWATCH_ROLLUP_RETENTION_DAYS: an edge older
than that is read from its whole hour, whether or not the minutes are still there, so the
answer for a range does not change when `prune` runs.
"""

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import connections
from django.db.models import BigIntegerField, DateTimeField, F, Func, Q, QuerySet, Sum

from monitor.reads.timerange import TimeRange
from monitor.rules.timebuckets import DAY, HOUR, MINUTE, ceil, floor

INTEGER_FIELDS = ("BigIntegerField", "IntegerField", "SmallIntegerField")
# Ingest keeps only records between 2000 and tomorrow: nothing to read outside that.
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)


class FloorTo(Func):
    """FloorTo("minute", timedelta(minutes=15)): the start of the column's 15-minute bucket."""

    output_field = DateTimeField()

    def __init__(self, expression, step: timedelta, **extra):
        # An int we computed, so it is safe to write into the SQL as a literal.
        self.seconds = int(step.total_seconds())
        if self.seconds <= 0:
            raise ValueError("step must be at least one second")
        super().__init__(expression, **extra)

    def _column(self, compiler):
        return compiler.compile(self.get_source_expressions()[0])

    def as_postgresql(self, compiler, connection, **extra):
        column, params = self._column(compiler)
        return (
            f"date_bin(make_interval(secs => {self.seconds}), {column}, "
            "TIMESTAMPTZ '1970-01-01 00:00:00+00')",
            params,
        )

    def as_sqlite(self, compiler, connection, **extra):
        column, params = self._column(compiler)
        return (
            f"strftime('%%Y-%%m-%%d %%H:%%M:%%S', (CAST(strftime('%%s', {column}) AS INTEGER)"
            f" / {self.seconds}) * {self.seconds}, 'unixepoch')",
            params,
        )


class EpochFloorTo(FloorTo):
    """EpochFloorTo("minute", step): the start of the column's bucket as whole seconds since
    the Unix epoch. An integer comes back from the database several times faster than a
    timestamp is parsed, which counts for a series of thousands of points."""

    output_field = BigIntegerField()

    def as_postgresql(self, compiler, connection, **extra):
        bucket, params = super().as_postgresql(compiler, connection, **extra)
        return f"CAST(date_part('epoch', {bucket}) AS BIGINT)", params

    def as_sqlite(self, compiler, connection, **extra):
        column, params = self._column(compiler)
        return (
            f"(CAST(strftime('%%s', {column}) AS INTEGER) / {self.seconds}) * {self.seconds}",
            params,
        )


def grain_for(step: timedelta) -> timedelta:
    """The coarsest rollup grain whose buckets fit whole in buckets of `step`."""
    if step % DAY == timedelta(0):
        return DAY
    if step % HOUR == timedelta(0):
        return HOUR
    return MINUTE


def minute_cutoff(now: datetime | None = None) -> datetime:
    """Minute rollups before this instant may be pruned, so reads take whole hours there.
    Hour-aligned; prune deletes minute rows only before the UTC day that holds it."""
    now = now or datetime.now(UTC)
    return floor(now - timedelta(days=settings.CONFLICTWATCH_ROLLUP_RETENTION_DAYS), HOUR)


def pieces(
    rng: TimeRange, coarsest: timedelta = DAY, now: datetime | None = None
) -> list[tuple[timedelta, datetime, datetime]]:
    """Disjoint (grain, start, end) pieces that cover the rollup minutes of the range
    [floor(start), end): whole days (when `coarsest` is a day) in the middle, whole hours
    around them, minutes at the edges. Minute edges before `minute_cutoff` widen to their hour
    (unless `coarsest` is a minute: a per-minute series past retention is simply empty).
    """
    now = now or datetime.now(UTC)
    # Nothing is stored outside EARLIEST and tomorrow (and no calendar overflow at 9999).
    start = floor(max(rng.start, EARLIEST), MINUTE)
    end = ceil(min(rng.end, now + timedelta(days=2)), MINUTE)
    if start >= end:
        return []
    cutoff = minute_cutoff(now)
    out: list[tuple[timedelta, datetime, datetime]] = []

    def minutes(lo: datetime, hi: datetime) -> None:
        if lo >= hi:
            return
        if lo < cutoff and coarsest >= HOUR:
            out.append((HOUR, floor(lo, HOUR), ceil(hi, HOUR)))
        else:
            out.append((MINUTE, lo, hi))

    def hours(lo: datetime, hi: datetime) -> None:
        first, last = ceil(lo, HOUR), floor(hi, HOUR)
        if coarsest < HOUR or first >= last:
            minutes(lo, hi)
            return
        minutes(lo, first)
        out.append((HOUR, first, last))
        minutes(last, hi)

    first_day, last_day = ceil(start, DAY), floor(end, DAY)
    if coarsest >= DAY and first_day < last_day:
        hours(start, first_day)
        out.append((DAY, first_day, last_day))
        hours(last_day, end)
    else:
        hours(start, end)
    # Two minute edges widened into the same hour (a short range long ago) read it once.
    merged: list[tuple[timedelta, datetime, datetime]] = []
    for piece in out:
        if merged and merged[-1][0] == piece[0] and merged[-1][2] >= piece[1]:
            merged[-1] = (piece[0], merged[-1][1], max(merged[-1][2], piece[2]))
        else:
            merged.append(piece)
    return merged


def by_grain(
    rng: TimeRange, coarsest: timedelta = DAY, now: datetime | None = None
) -> list[tuple[timedelta, Q]]:
    """The range's `pieces` gathered by grain: (grain, the condition on `minute` that holds
    every piece of that grain), finest grain first. The two minute edges (and the two hour
    edges) of a range are one read of their table, not two: a statement names each table once
    per range, and a page builds half as many querysets."""
    spans: dict[timedelta, Q] = {}
    for grain, lo, hi in pieces(rng, coarsest, now):
        span = Q(minute__gte=lo, minute__lt=hi)
        spans[grain] = spans[grain] | span if grain in spans else span
    return sorted(spans.items())


def summed(
    parts: Sequence[QuerySet],
    group: Sequence[str],
    sums: Sequence[str],
    *,
    order: Sequence[str] = (),
    limit: int | None = None,
    per_piece: bool = True,
) -> list[tuple]:
    """Rows (*group, *sums) summed over every part (the querysets of a range's pieces), in one
    statement: each part grouped by `group`, all of them UNION ALL, grouped again. `order`
    holds output columns (`-` for descending), `limit` cuts the ranked rows; when ordering by a
    sum first, rows whose sum is not positive are left out.

    One statement whatever the number of pieces, so that a ranking (the top resources of 30
    days) is decided in the database over the range as a whole, not piece by piece.

    `per_piece=False` leaves the grouping to the outer statement alone: each row is hashed once,
    not twice, which is cheaper wherever a part's own grouping would merge few of its rows (a
    ranking of resources; histograms read with one part per grain, both periods together).
    Per piece pays where a part's rows collapse many to one before the union."""
    if not parts:
        return []
    selects, params = [], []
    using = parts[0].db  # the database the router reads rollups from (ops/routers.py)
    column = Sum if per_piece else F
    for qs in parts:
        grouped = qs.order_by().values(*group).annotate(**{f"s_{c}": column(c) for c in sums})
        sql, p = grouped.query.get_compiler(using=using).as_sql()
        selects.append(sql)
        params.extend(p)
    cols = ", ".join(group)
    # Postgres sums bigints as numeric: counts come back as integers.
    fields = parts[0].model._meta
    totals = ", ".join(
        f"CAST(SUM(s_{c}) AS BIGINT) AS {c}"
        if fields.get_field(c).get_internal_type() in INTEGER_FIELDS
        else f"SUM(s_{c}) AS {c}"
        for c in sums
    )
    sql = f"SELECT {cols}, {totals} FROM ({' UNION ALL '.join(selects)}) AS pieces GROUP BY {cols}"
    if order:
        first = order[0].lstrip("-")
        if first in sums:
            sql += f" HAVING SUM(s_{first}) > 0"
        sql += " ORDER BY " + ", ".join(f"{o[1:]} DESC" if o.startswith("-") else o for o in order)
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    with connections[using].cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()
