"""The time range of a page: a preset (?range=24h) or custom (?from=…&to=…, RFC 3339 or relative).

Links between pages carry the range along (`PageRange.query`), so a shared URL shows the same
window to whoever opens it.
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


def page_range(params, now: datetime | None = None) -> PageRange:
    """The range asked for; a bad custom range falls back to the default with an error."""
    now = now or datetime.now(UTC)
    error = None
    if params.get("from") or params.get("to"):
        try:
            rng = parse_range(params, now)
        except RangeError as exc:
            error = str(exc)
        else:
            query = urlencode({k: params[k] for k in ("from", "to") if params.get(k)})
            return PageRange("custom", rng, query)
    key = params.get("range", DEFAULT)
    if key not in PRESETS:
        key = DEFAULT
    return PageRange(key, TimeRange(now - PRESETS[key], now), f"range={key}", error)
