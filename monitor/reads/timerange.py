"""Time ranges from query parameters: RFC 3339 instants or relative (-15m, -24h, -7d, now)."""

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings

DEFAULT_SPAN = timedelta(hours=24)
_RELATIVE = re.compile(r"^-(\d{1,6})(s|m|h|d|w)$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


class RangeError(ValueError):
    """A bad time parameter; the message names it."""


@dataclass(frozen=True)
class TimeRange:
    start: datetime
    end: datetime

    @property
    def span(self) -> timedelta:
        return self.end - self.start

    def minute_bounds(self) -> tuple[datetime, datetime]:
        """The rollup minutes that overlap the range: [floor(start), end)."""
        return self.start.replace(second=0, microsecond=0), self.end


def parse_instant(name: str, value: str, now: datetime) -> datetime:
    text = value.strip()
    if text == "now":
        return now
    match = _RELATIVE.match(text)
    if match:
        try:
            return now - timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
        except OverflowError:
            raise RangeError(f"{name}: {text} reaches before year 1") from None
    try:
        parsed = datetime.fromisoformat(text.replace(" ", "+") if "T" in text else text)
    except ValueError:
        raise RangeError(
            f"{name}: not an RFC 3339 time or a relative time such as -24h: {text[:40]!r}"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        raise RangeError(f"{name}: {text[:40]!r} is outside the calendar in UTC") from None


def parse_range(params, now: datetime | None = None) -> TimeRange:
    """The [from, to) range of a request's parameters; by default the last 24 hours."""
    now = now or datetime.now(UTC)
    end = parse_instant("to", params["to"], now) if params.get("to") else now
    if params.get("from"):
        start = parse_instant("from", params["from"], now)
    elif end - datetime.min.replace(tzinfo=UTC) < DEFAULT_SPAN:
        raise RangeError("to: too early to have a default range before it")
    else:
        start = end - DEFAULT_SPAN
    if start >= end:
        raise RangeError("from: must be earlier than to")
    max_days = settings.CONFLICTWATCH_MAX_RANGE_DAYS
    if end - start > timedelta(days=max_days):
        raise RangeError(f"from: the range is over the maximum of {max_days} days")
    return TimeRange(start, end)
