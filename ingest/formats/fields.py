"""Reading gateway fields: placeholders, numbers written as strings, status lists, units.

Gateways write "nothing" as "", "-", null or 0 and numbers as strings; these helpers turn such
values into Python values or raise RecordError naming the source field. They never mutate or
copy the record.
"""

import math
from datetime import UTC, datetime

from ingest.record import RecordError

PLACEHOLDERS = frozenset({"", "-"})
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def obj(parent: dict, key: str, name: str | None = None) -> dict:
    """The sub-object under `key`, {} when absent or null; anything else is an error."""
    value = parent.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise RecordError(f"{name or key}: expected an object, got {type(value).__name__}")
    return value


def text(value) -> str | None:
    """A string value, None for placeholders; the first string of a list (repeated header)."""
    if isinstance(value, str):
        return None if value in PLACEHOLDERS else value
    if isinstance(value, list):
        for item in value:
            if isinstance(item, str) and item not in PLACEHOLDERS:
                return item
        return None
    if value is None or isinstance(value, bool | dict):
        return None
    if isinstance(value, int | float):
        return str(value)
    return None


def number(value, name: str) -> float | int | None:
    """A finite number from a number or a numeric string; None for placeholders."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise RecordError(f"{name}: expected a number, got a boolean")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise RecordError(f"{name}: {value!r} is not a finite number")
        return value
    if isinstance(value, str):
        text_value = value.strip()
        if text_value in PLACEHOLDERS:
            return None
        try:
            result = float(text_value)
        except ValueError:
            raise RecordError(f"{name}: expected a number, got {value[:40]!r}") from None
        if not math.isfinite(result):
            raise RecordError(f"{name}: {value[:40]!r} is not a finite number")
        return result
    raise RecordError(f"{name}: expected a number, got {type(value).__name__}")


def scaled(value, name: str, factor: float) -> float | None:
    """number(value) * factor, e.g. seconds -> ms with factor 1000, ns -> ms with 1e-6."""
    result = number(value, name)
    return None if result is None else result * factor


def last_status(value, name: str = "upstream_status") -> int | None:
    """The last status of an upstream list ("502, 409" or nginx's "502 : 409"); None for
    placeholders and 0 (no upstream was called)."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value or None
    if isinstance(value, float):
        return int(value) if math.isfinite(value) and value == int(value) and value else None
    if not isinstance(value, str):
        raise RecordError(f"{name}: expected a status or a list of statuses")
    tail = value.rsplit(",", 1)[-1].rsplit(":", 1)[-1].strip()
    if tail in PLACEHOLDERS:
        return None
    if not tail.isdigit() or len(tail) > 3:
        raise RecordError(f"{name}: not a status: {value[:40]!r}")
    return int(tail) or None


def epoch_ms(value: float) -> int:
    """Milliseconds since the epoch from a number of seconds, ms or ns, told apart by size
    (seconds below 1e11, ms below 1e14, else ns)."""
    if value < 1e11:
        return round(value * 1000)
    if value < 1e14:
        return round(value)
    return round(value / 1_000_000)


def iso_to_epoch_ms(value: str, name: str) -> float:
    """Milliseconds since the epoch (with fraction) from an RFC 3339 string with an offset."""
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise RecordError(f"{name}: not an RFC 3339 time: {value[:40]!r}") from None
    if parsed.tzinfo is None:
        raise RecordError(f"{name}: {value[:40]!r} has no UTC offset")
    return (parsed - _EPOCH).total_seconds() * 1000


def strip_port(address: str | None) -> str | None:
    """'10.0.0.1:4321' -> '10.0.0.1', '[2001:db8::1]:443' -> '2001:db8::1'; others unchanged."""
    if not address:
        return address
    if address[0] == "[":
        end = address.find("]")
        return address[1:end] if end > 0 else address
    if address.count(":") == 1:
        return address.partition(":")[0]
    return address


_GO_UNITS = {"ns": 1e-6, "us": 1e-3, "µs": 1e-3, "μs": 1e-3, "ms": 1.0, "s": 1000.0}
_GO_UNITS.update({"m": 60_000.0, "h": 3_600_000.0})


def go_duration_ms(value: str, name: str) -> float:
    """Milliseconds from a Go duration string such as '37.118002ms', '1.5s' or '1m2.5s'."""
    total = 0.0
    i, n = 0, len(value)
    if n == 0 or n > 64:
        raise RecordError(f"{name}: not a duration: {value[:40]!r}")
    while i < n:
        start = i
        while i < n and (value[i].isdigit() or value[i] == "."):
            i += 1
        digits = value[start:i]
        unit_start = i
        while i < n and not (value[i].isdigit() or value[i] == "."):
            i += 1
        unit = value[unit_start:i]
        factor = _GO_UNITS.get(unit)
        if not digits or factor is None:
            raise RecordError(f"{name}: not a duration: {value[:40]!r}")
        try:
            total += float(digits) * factor
        except ValueError:
            raise RecordError(f"{name}: not a duration: {value[:40]!r}") from None
    return total
