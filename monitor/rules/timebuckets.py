"""Time buckets aligned to UTC: the one floor that rollups, reads, charts and alerts share.

A bucket of width `step` starts at a whole multiple of `step` since the Unix epoch, so minute,
hour and day buckets are the UTC minute, hour and day, and 5-minute or 6-hour buckets line up
the same way in every chart and API answer.
"""

from datetime import UTC, datetime, timedelta

MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ZERO = timedelta(0)


def floor(t: datetime, step: timedelta) -> datetime:
    """The start of the UTC-aligned bucket of width `step` that holds `t` (an aware time)."""
    # Whole minutes, hours and days of UTC times are the hot cases (rollup keys): replace() is
    # exact there and several times faster.
    if t.utcoffset() == _ZERO:
        if step == MINUTE:
            return t.replace(second=0, microsecond=0)
        if step == HOUR:
            return t.replace(minute=0, second=0, microsecond=0)
        if step == DAY:
            return t.replace(hour=0, minute=0, second=0, microsecond=0)
    return EPOCH + ((t - EPOCH) // step) * step


def ceil(t: datetime, step: timedelta) -> datetime:
    """The start of the first bucket at or after `t`."""
    down = floor(t, step)
    return down if down == t else down + step


def starts(start: datetime, end: datetime, step: timedelta) -> list[datetime]:
    """Every bucket start from the bucket holding `start` up to (not including) `end`."""
    first = floor(start, step)
    count = -(-(end - first) // step)  # ceiling division
    return [first + i * step for i in range(count)]
