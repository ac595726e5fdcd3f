"""What a mail says about a window besides the metric: top causes, offenders and resources.

All three come from rollups (monitor/reads/totals.py, monitor/reads/conflicts.py), over the rule's
window and scope (endpoint, cause), never from a scan of raw requests.
"""

from datetime import datetime, timedelta

from monitor.alerts.models import AlertRule
from monitor.reads import conflicts, totals
from monitor.reads.timerange import TimeRange

TOP = 5


def _window(rule: AlertRule, end: datetime) -> TimeRange:
    return TimeRange(end - timedelta(minutes=rule.window_minutes), end)


def _filters(rule: AlertRule) -> totals.Filters:
    return totals.Filters(endpoint=rule.endpoint_id, cause=rule.cause or None)


def top_causes(rule: AlertRule, end: datetime) -> list[tuple[str, int]]:
    summary = totals.summary(rule.project, _window(rule, end), _filters(rule))
    return list(summary["by_cause"].items())[:TOP]


def offenders(rule: AlertRule, end: datetime) -> list[dict]:
    """Clients with the most conflicts in the window: [{"client", "conflicts", "caused"}]."""
    ranked = conflicts.offenders(rule.project, _window(rule, end), _filters(rule))
    return [
        {"client": o["client"], "conflicts": o["conflicts"], "caused": o["caused"]}
        for o in ranked
        if o["conflicts"]
    ][:TOP]


def resources(rule: AlertRule, end: datetime) -> list[dict]:
    """The most conflicted resources in the window: [{"resource", "conflicts"}]."""
    spots = conflicts.hotspots(rule.project, _window(rule, end), _filters(rule), limit=TOP)
    return [{"resource": s["resource"], "conflicts": s["conflicts"]} for s in spots]
