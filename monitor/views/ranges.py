"""The time range of a page: a preset (?range=24h) or custom (?from=…&to=…, RFC 3339 or relative).

Links between pages carry the range along (`PageRange.query`), so a shared URL shows the same
window to whoever opens it. Without a range in the URL a page shows the preset that fits the
project's recent history (`fitting_preset`): the last hour of a project that started sending
30 minutes ago, not a day of empty buckets with every bar squeezed at the right edge.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

from monitor.reads.timerange import RangeError, TimeRange, parse_range

PRESETS = {
    "15m": timedelta(minutes=15),
    "1h": timedelta(hours=1),
    "6h": timedelta(hours=6),
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
}
DEFAULT = "24h"
# The presets a page may open on by itself, shortest first.
DEFAULT_CHOICES = ("1h", "6h", "24h")
# Parameters that make up the range (and the page's position in a list), not the view.
RANGE_PARAMS = ("range", "from", "to", "before", "after")
# A page draws its range with four-digit years and compares it with the period before it:
# a custom range must lie within these years (the API takes any instant of the calendar).
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class PageRange:
    key: str  # a preset name, or "custom"
    rng: TimeRange
    query: str  # "range=1h" or "from=…&to=…", to append to links
    error: str | None = None

    @property
    def label(self) -> str:
        if self.key != "custom":
            return f"last {self.key}"
        fmt = "%Y-%m-%d %H:%M"
        return f"{self.rng.start.strftime(fmt)} – {self.rng.end.strftime(fmt)} UTC"

    @property
    def live(self) -> bool:
        """A preset moves with the clock, so reloading it shows new data."""
        return self.key != "custom"


def asks_for_range(params) -> bool:
    return bool(params.get("range") or params.get("from") or params.get("to"))


def fitting_preset(first_minute: datetime | None, now: datetime) -> str:
    """The shortest default preset that holds the history since `first_minute` (the first
    minute with traffic in the last day, None when there is none)."""
    if first_minute is None:
        return DEFAULT
    held = now - first_minute
    for key in DEFAULT_CHOICES:
        if held <= PRESETS[key]:
            return key
    return DEFAULT


def page_range(params, now: datetime | None = None, default: str = DEFAULT) -> PageRange:
    """The range asked for; a bad custom range falls back to the default with an error."""
    now = now or datetime.now(UTC)
    error = None
    if params.get("from") or params.get("to"):
        try:
            rng = parse_range(params, now)
            if rng.start < EARLIEST or rng.end > LATEST:
                raise RangeError(
                    f"from, to: outside the years a page shows "
                    f"({EARLIEST.year} to {LATEST.year - 1})"
                )
        except RangeError as exc:
            error = str(exc)
        else:
            query = urlencode({k: params[k] for k in ("from", "to") if params.get(k)})
            return PageRange("custom", rng, query)
    key = params.get("range", default)
    if key not in PRESETS:
        key = default
    return PageRange(key, TimeRange(now - PRESETS[key], now), f"range={key}", error)
