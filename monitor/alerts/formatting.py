"""Alert values in words, for mail and pages: percentages, milliseconds, factors, sparklines,
and header-safe one-line text."""

import re

from monitor.alerts.models import Metric

METRIC_NAMES = {
    Metric.CONFLICT_RATE: "conflict rate",
    Metric.CONFLICTS: "conflicts",
    Metric.STATUS_RATE: "status rate",
    Metric.P95_MS: "p95 latency",
    Metric.ANOMALY: "conflict rate vs usual",
    Metric.SILENCE_MIN: "minutes without records",
}
BARS = "▁▂▃▄▅▆▇█"
# Everything that could end or fold a mail header, and other invisible controls.
_HEADER_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
_SPACES = re.compile(r"\s+")


def format_value(metric: str, value: float | None) -> str:
    """0.34 as '34.0%' for rates, '1,234 ms' for p95, '2.10x' for anomaly, '42 min' for
    silence; 'no data' for None."""
    if value is None:
        return "no data"
    if metric in (Metric.CONFLICT_RATE, Metric.STATUS_RATE):
        return f"{value * 100:.1f}%"
    if metric == Metric.P95_MS:
        return f"{value:,.0f} ms"
    if metric == Metric.ANOMALY:
        return f"{value:.2f}x"
    if metric == Metric.SILENCE_MIN:
        return f"{value:,.0f} min"
    return f"{value:,.0f}"


def header_text(text: str, limit: int = 180) -> str:
    """One line safe for a mail header: line breaks and controls become spaces, runs of
    whitespace collapse, and it is cut to `limit` characters (with an ASCII '...', so that an
    ASCII subject stays unencoded and on one line)."""
    text = _SPACES.sub(" ", _HEADER_UNSAFE.sub(" ", text)).strip()
    if len(text) > limit:
        text = text[: limit - 3].rstrip() + "..."
    return text


def sparkline(values: list[float | None]) -> str:
    """One block character per value, scaled from 0 to the largest; a gap where no data."""
    known = [v for v in values if v is not None]
    top = max(known, default=0)
    out = []
    for v in values:
        if v is None:
            out.append(" ")
        elif top <= 0:
            out.append(BARS[0])
        else:
            out.append(BARS[min(len(BARS) - 1, int(v / top * (len(BARS) - 1) + 0.5))])
    return "".join(out)
