"""What a mail says about a window besides the metric: top causes, offenders and resources.

Causes come from the rollups. Offenders (clients with the most conflicts) and resources (the
most conflicted paths) come from raw requests through the (project, ts) index, over a window cut
to MAX_MINUTES so that the query stays bounded however wide the rule's window is.
"""

from datetime import datetime, timedelta

from django.db.models import Count

from ingest.models import Request
from monitor import queries
from monitor.alerts.models import AlertRule
from monitor.conflicts import CONFLICT_STATUSES
from monitor.timerange import TimeRange

MAX_MINUTES = 60
TOP = 5


def _window(rule: AlertRule, end: datetime, minutes: int | None = None) -> TimeRange:
    span = min(minutes or rule.window_minutes, MAX_MINUTES)
    return TimeRange(end - timedelta(minutes=span), end)


def top_causes(rule: AlertRule, end: datetime) -> list[tuple[str, int]]:
    rng = TimeRange(end - timedelta(minutes=rule.window_minutes), end)
    summary = queries.summary(rule.project, rng, queries.Filters(endpoint=rule.endpoint_id))
    return list(summary["by_cause"].items())[:TOP]


def _conflicts(rule: AlertRule, end: datetime):
    rng = _window(rule, end)
    qs = Request.objects.filter(
        project=rule.project, ts__gte=rng.start, ts__lt=rng.end, status__in=CONFLICT_STATUSES
    )
    if rule.endpoint_id:
        qs = qs.filter(endpoint_id=rule.endpoint_id)
    if rule.cause:
        qs = qs.filter(cause=rule.cause)
    return qs


def offenders(rule: AlertRule, end: datetime) -> list[dict]:
    """Clients with the most conflicts in the window: [{"client", "conflicts"}]."""
    rows = (
        _conflicts(rule, end)
        .values("client")
        .annotate(conflicts=Count("id"))
        .order_by("-conflicts", "client")[:TOP]
    )
    return [{"client": r["client"] or "(unknown)", "conflicts": r["conflicts"]} for r in rows]


def resources(rule: AlertRule, end: datetime) -> list[dict]:
    """The most conflicted resources in the window: [{"resource", "conflicts"}]."""
    rows = (
        _conflicts(rule, end)
        .values("resource")
        .annotate(conflicts=Count("id"))
        .order_by("-conflicts", "resource")[:TOP]
    )
    return list(rows)
