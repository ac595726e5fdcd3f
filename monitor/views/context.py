"""What every project page shares: its time range (monitor/views/ranges.py) and the layout's
context (the project switcher, the range picker, the link that reopens the same view)."""

from datetime import UTC, datetime
from urllib.parse import urlencode

from monitor.access import projects_for_user
from monitor.reads.timerange import TimeRange
from monitor.reads.totals import first_recent_minute
from monitor.views.ranges import (
    DEFAULT,
    PRESETS,
    RANGE_PARAMS,
    PageRange,
    asks_for_range,
    fitting_preset,
    page_range,
)

ISO = "%Y-%m-%dT%H:%M:%SZ"


def page_range_of(request, project=None) -> PageRange:
    """The page's range, worked out once per request: the URL's, else the preset that fits
    the project's recent history."""
    cached = getattr(request, "_cw_page_range", None)
    if cached is not None:
        return cached
    now = datetime.now(UTC)
    default = DEFAULT
    if project is not None and not asks_for_range(request.GET):
        default = fitting_preset(first_recent_minute(project, now, PRESETS[DEFAULT]), now)
    request._cw_page_range = page_range(request.GET, now, default)
    return request._cw_page_range


def last_day() -> TimeRange:
    """The last 24 hours (the project list's figures)."""
    now = datetime.now(UTC)
    return TimeRange(now - PRESETS[DEFAULT], now)


def range_of(request, project=None) -> TimeRange:
    """The time range a page request asks for (?range= or ?from=&to=)."""
    return page_range_of(request, project).rng


def kept_params(request) -> list[tuple[str, str]]:
    """The URL's parameters other than the range and the list position: the view's state
    (filters, sort, the client or resource shown), which changing the range keeps."""
    return [(k, v) for k, values in request.GET.lists() if k not in RANGE_PARAMS for v in values]


def page_context(request, project, **extra) -> dict:
    """The template context of a project page: the layout's keys plus `extra`."""
    pr = page_range_of(request, project)
    kept = kept_params(request)
    # The same view over the same absolute window, at the same place in a list: what
    # "Copy link" copies, so that a link pasted in an incident channel shows what was seen.
    window = [("from", pr.rng.start.strftime(ISO)), ("to", pr.rng.end.strftime(ISO))]
    position = [(k, request.GET[k]) for k in ("before", "after") if request.GET.get(k)]
    return {
        "project": project,
        "projects": projects_for_user(request.user).only("slug", "name"),
        "range_key": pr.key,
        "range_query": pr.query,
        "range_label": pr.label,
        "range_error": pr.error,
        "range_live": pr.live,
        "range_from": pr.rng.start.strftime("%Y-%m-%dT%H:%M"),
        "range_to": pr.rng.end.strftime("%Y-%m-%dT%H:%M"),
        "ranges": list(PRESETS),
        "kept": kept,
        "keep_query": urlencode(kept),
        "share_query": urlencode(window + kept + position),
        **extra,
    }
