"""What a mail says about a window besides the metric: top causes, offenders and resources.

All three come from rollups (monitor/queries.py, monitor/conflict_queries.py), over the rule's
window and scope (endpoint, cause), never from a scan of raw requests.
"""

from datetime import datetime, timedelta

from monitor import conflict_queries, queries
from monitor.alerts.models import AlertRule
from monitor.timerange import TimeRange

TOP = 5


def _window(rule: AlertRule, end: datetime) -> TimeRange:
    return TimeRange(end - timedelta(minutes=rule.window_minutes), end)


def _filters(rule: AlertRule) -> queries.Filters:
    return queries.Filters(endpoint=rule.endpoint_id, cause=rule.cause or None)


def top_causes(rule: AlertRule, end: datetime) -> list[tuple[str, int]]:
    summary = queries.summary(rule.project, _window(rule, end), _filters(rule))
    return list(summary["by_cause"].items())[:TOP]


def offenders(rule: AlertRule, end: datetime) -> list[dict]:
    """Clients with the most conflicts in the window: [{"client", "conflicts", "caused"}]."""
    ranked = conflict_queries.offenders(rule.project, _window(rule, end), _filters(rule))
    return [
        {"client": o["client"], "conflicts": o["conflicts"], "caused": o["caused"]}
        for o in ranked
        if o["conflicts"]
    ][:TOP]


def resources(rule: AlertRule, end: datetime) -> list[dict]:
    """The most conflicted resources in the window: [{"resource", "conflicts"}]."""
    spots = conflict_queries.hotspots(rule.project, _window(rule, end), _filters(rule), limit=TOP)
    return [{"resource": s["resource"], "conflicts": s["conflicts"]} for s in spots]
