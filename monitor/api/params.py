"""Query parameters shared by the read API: time range and rollup filters, validated."""

from rest_framework.exceptions import ValidationError

from monitor.conflicts import CAUSES
from monitor.queries import Filters
from monitor.timerange import RangeError, TimeRange, parse_range


def time_range(request) -> TimeRange:
    try:
        return parse_range(request.query_params)
    except RangeError as exc:
        raise ValidationError({"error": str(exc)}) from None


def int_param(request, name: str, lo: int = 0, hi: int = 2**31 - 1) -> int | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = int(raw)
    except ValueError:
        raise ValidationError({"error": f"{name}: expected an integer, got {raw[:40]!r}"}) from None
    if not lo <= value <= hi:
        raise ValidationError({"error": f"{name}: {value} is out of range ({lo}-{hi})"})
    return value


def cause_param(request) -> str | None:
    cause = request.query_params.get("cause") or None
    if cause is not None and cause not in CAUSES:
        raise ValidationError(
            {"error": f"cause: unknown cause {cause[:40]!r}; one of {', '.join(CAUSES)}"}
        )
    return cause


def filters(request) -> Filters:
    return Filters(
        endpoint=int_param(request, "endpoint"),
        method=(request.query_params.get("method") or None),
        route=(request.query_params.get("route") or None),
        status=int_param(request, "status", 100, 599),
        cause=cause_param(request),
    )
