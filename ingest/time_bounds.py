"""How old, or how far ahead, a record's `ts` may be (DESIGN.md "Time bounds").

A record older than CONFLICTWATCH_MAX_RECORD_AGE_DAYS (default: the raw retention) or more than
a day in the future is rejected per record by normalize. Raw rows live in one partition per UTC
day on Postgres, so this is also what keeps any sender from making the server create partitions
(and rollup rows) for days that retention would never keep. `importlog --max-age DAYS` widens
the range for a deliberate backfill, never past the rollup retention.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from django.conf import settings

from ingest.record import RecordError

FUTURE = timedelta(days=1)
# Partitions are made this many days ahead of today (ingest/partitions.py: ensure_ahead).
DAYS_AHEAD = 2


@dataclass(frozen=True)
class TimeBounds:
    """The range of `ts` accepted now: [earliest, latest]."""

    earliest: datetime
    latest: datetime
    max_age_days: int

    def check(self, ts: datetime) -> datetime:
        """The time itself, or RecordError naming the bound it is past."""
        if ts < self.earliest:
            raise RecordError(f"ts: older than {self.max_age_days} days")
        if ts > self.latest:
            raise RecordError("ts: more than a day in the future")
        return ts


def default_max_age_days() -> int:
    return settings.CONFLICTWATCH_MAX_RECORD_AGE_DAYS


def longest_max_age_days() -> int:
    """The widest age any ingest may accept: a backfill may go back to the rollup retention."""
    return max(settings.CONFLICTWATCH_ROLLUP_RETENTION_DAYS, default_max_age_days())


def bounds(max_age_days: int | None = None, now: datetime | None = None) -> TimeBounds:
    """The accepted range as of `now` (default: now), `max_age_days` back (default: the
    setting); computed once per batch, not per record."""
    now = now or datetime.now(UTC)
    days = default_max_age_days() if max_age_days is None else max_age_days
    return TimeBounds(now - timedelta(days=days), now + FUTURE, days)


def partition_days(now: datetime | None = None) -> tuple[date, date]:
    """The first and last UTC day a raw partition may be made for."""
    today = (now or datetime.now(UTC)).astimezone(UTC).date()
    return today - timedelta(days=longest_max_age_days()), today + timedelta(days=DAYS_AHEAD)
