"""What every project page shares: its time range (monitor/views/ranges.py) and the layout's
context (the project switcher, the range picker)."""

from monitor.access import projects_for_user
from monitor.reads.timerange import TimeRange
from monitor.views.ranges import PRESETS, page_range


def range_of(request) -> TimeRange:
    """The time range a page request asks for (?range= or ?from=&to=)."""
    return page_range(request.GET).rng


def page_context(request, project, **extra) -> dict:
    """The template context of a project page: the layout's keys plus `extra`."""
    pr = page_range(request.GET)
    return {
        "project": project,
        "projects": projects_for_user(request.user).only("slug", "name"),
        "range_key": pr.key,
        "range_query": pr.query,
        "range_label": pr.label,
        "range_error": pr.error,
        "range_from": pr.rng.start.strftime("%Y-%m-%dT%H:%M"),
        "range_to": pr.rng.end.strftime("%Y-%m-%dT%H:%M"),
        "ranges": list(PRESETS),
        **extra,
    }
