"""Query parameters shared by the read API: time range and rollup filters, validated.

Every bad value is a 400 whose message starts with the parameter's name.
"""

from rest_framework.exceptions import ValidationError

from monitor.reads import series
from monitor.reads.series import Query
from monitor.reads.timerange import RangeError, TimeRange, parse_range
from monitor.reads.totals import Filters
from monitor.rules.causes import CAUSES

MAX_TEXT = 2000
# Ids are 64-bit in the database; a larger number cannot match and would overflow the query.
MAX_ID = 2**63 - 1


def bad(name: str, message: str) -> ValidationError:
    return ValidationError({"error": f"{name}: {message}"})


def time_range(request) -> TimeRange:
    try:
        return parse_range(request.query_params)
    except RangeError as exc:
        raise ValidationError({"error": str(exc)}) from None


def text_param(request, name: str) -> str | None:
    """A free-text parameter: absent or empty is None; NUL characters and huge values are 400."""
    raw = request.query_params.get(name)
    if not raw:
        return None
    if "\x00" in raw:
        raise bad(name, "must not contain NUL characters")
    if len(raw) > MAX_TEXT:
        raise bad(name, f"longer than {MAX_TEXT} characters")
    return raw


def int_param(request, name: str, lo: int = 0, hi: int = MAX_ID) -> int | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = int(raw)
    except ValueError:
        raise bad(name, f"expected an integer, got {raw[:40]!r}") from None
    if not lo <= value <= hi:
        raise bad(name, f"{value} is out of range ({lo}-{hi})")
    return value


def choice_param(request, name: str, choices, default: str | None = None) -> str | None:
    raw = request.query_params.get(name)
    if not raw:
        return default
    if raw not in choices:
        raise bad(name, f"unknown value {raw[:40]!r}; one of {', '.join(choices)}")
    return raw


def cause_param(request) -> str | None:
    cause = request.query_params.get("cause") or None
    if cause is not None and cause not in CAUSES:
        raise bad("cause", f"unknown cause {cause[:40]!r}; one of {', '.join(CAUSES)}")
    return cause


def filters(request) -> Filters:
    return Filters(
        endpoint=int_param(request, "endpoint"),
        method=text_param(request, "method"),
        route=text_param(request, "route"),
        status=int_param(request, "status", 100, 599),
        cause=cause_param(request),
    )


def series_query(request, rng: TimeRange) -> Query:
    """metric, interval and group of a timeseries call; interval defaults to the finest that
    fits the range."""
    return Query(
        metric=choice_param(request, "metric", series.METRICS, "requests"),
        interval=choice_param(request, "interval", series.INTERVALS, series.default_interval(rng)),
        group=choice_param(request, "group", series.GROUPS),
    )
