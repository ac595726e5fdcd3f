"""A project's settings (DESIGN.md "Project settings"), read, checked and changed the same way
by PATCH /api/v1/projects/{slug}/ and the settings page. A bad value is a SettingsError whose
message names the field first ("race_window_s: 7200 is over 3600")."""

import math
import re

from django.db import transaction

from ingest.normalize import SECRET_HEADERS
from ingest.routes import normalize_template, template_error
from monitor.models import MAX_RACE_WINDOW_SECONDS, Project
from monitor.rules.causes import validate_phrases

MAX_NAME = 200
MAX_PATTERNS = 1000
MAX_NAMES = 50  # headers or parameters in one list
MAX_PHRASES = 50  # per cause
MAX_PHRASE = 200
MIN_MAX_ENDPOINTS = 20
MAX_MAX_ENDPOINTS = 100_000
MIN_LEARNING_THRESHOLD = 10
MAX_LEARNING_THRESHOLD = 1_000_000
HEADER_NAME = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}$")
PARAM_NAME = re.compile(r"^[A-Za-z0-9_.\-\[\]]{1,64}$")

# API name -> model field.
FIELDS = {
    "name": "name",
    "route_patterns": "route_patterns",
    "conflict_phrases": "conflict_phrases",
    "race_window_s": "race_window_seconds",
    "version_params": "version_params",
    "version_headers": "version_headers",
    "extra_headers": "extra_headers",
    "secret_headers": "secret_headers",
    "max_endpoints": "max_endpoints",
    "route_learning_threshold": "route_learning_threshold",
}


class SettingsError(ValueError):
    """A setting that cannot be taken; `field` is its API name."""

    def __init__(self, field: str, problem: str):
        self.field = field
        super().__init__(f"{field}: {problem}")


def read(project: Project) -> dict:
    """The project's settings under their API names."""
    out = {"slug": project.slug}
    for api_name, attr in FIELDS.items():
        out[api_name] = getattr(project, attr)
    return out


def check(data) -> dict:
    """The given settings checked and cleaned ({API name: value}); SettingsError for the
    first bad one. Settings not given are left out."""
    if not isinstance(data, dict):
        raise SettingsError("body", "expected a JSON object of settings")
    unknown = sorted(str(k) for k in data if k not in FIELDS)
    if unknown:
        raise SettingsError(unknown[0][:40], f"not a project setting; one of {', '.join(FIELDS)}")
    return {name: CHECKS[name](name, value) for name, value in data.items()}


def update(project: Project, data) -> dict:
    """Check and store the given settings; returns the cleaned values. A change of route
    patterns re-routes the project's endpoints once committed (monitor/routing/merge.py)."""
    from monitor.tasks import after_routing_change

    changes = check(data)
    routing_changed = (
        "route_patterns" in changes and changes["route_patterns"] != project.route_patterns
    )
    with transaction.atomic():
        for name, value in changes.items():
            setattr(project, FIELDS[name], value)
        fields = [FIELDS[name] for name in changes]
        if routing_changed:
            project.routes_version += 1
            fields.append("routes_version")
        if fields:
            project.save(update_fields=fields)
        if routing_changed:
            after_routing_change(project)
    return changes


def _name(field: str, value) -> str:
    if not isinstance(value, str) or not value.strip():
        raise SettingsError(field, "expected a non-empty string")
    value = value.strip()
    if len(value) > MAX_NAME:
        raise SettingsError(field, f"at most {MAX_NAME} characters")
    if not value.isprintable():
        raise SettingsError(field, "control characters are not allowed")
    return value


def _list(field: str, value, limit: int) -> list:
    if not isinstance(value, list):
        raise SettingsError(field, f"expected a list, got {_kind(value)}")
    if len(value) > limit:
        raise SettingsError(field, f"{len(value)} entries, over the limit of {limit}")
    return value


def _route_patterns(field: str, value) -> list[str]:
    out: list[str] = []
    for i, template in enumerate(_list(field, value, MAX_PATTERNS)):
        error = template_error(template)
        if error:
            raise SettingsError(f"{field}[{i}]", error)
        template = normalize_template(template)
        if template not in out:
            out.append(template)
    return out


def _names(pattern: re.Pattern[str], what: str, *, lower: bool):
    def check_names(field: str, value) -> list[str]:
        out: list[str] = []
        for i, name in enumerate(_list(field, value, MAX_NAMES)):
            if not isinstance(name, str) or not pattern.match(name.strip()):
                shown = repr(name[:40]) if isinstance(name, str) else _kind(name)
                raise SettingsError(f"{field}[{i}]", f"{shown} is not {what}")
            name = name.strip().lower() if lower else name.strip()
            if name not in out:
                out.append(name)
        return out

    return check_names


_header_names = _names(HEADER_NAME, "a header name", lower=True)


def _kept_header_names(field: str, value) -> list[str]:
    """Names of headers to keep or read: a credential header is never kept, so naming one is
    a mistake."""
    names = _header_names(field, value)
    secret = [n for n in names if n in SECRET_HEADERS]
    if secret:
        raise SettingsError(
            field, f"{secret[0]!r} carries credentials and is never kept (see secret_headers)"
        )
    return names


def _phrases(field: str, value) -> dict[str, list[str]]:
    try:
        checked = validate_phrases(value)
    except ValueError as exc:
        raise SettingsError(field, str(exc).removeprefix(f"{field}: ")) from None
    out = {}
    for cause, phrases in checked.items():
        if len(phrases) > MAX_PHRASES:
            raise SettingsError(f"{field}.{cause}", f"at most {MAX_PHRASES} phrases")
        long = [p for p in phrases if len(p) > MAX_PHRASE or not p.isprintable()]
        if long:
            raise SettingsError(
                f"{field}.{cause}",
                f"{long[0][:40]!r}: a phrase is printable text of at most {MAX_PHRASE} characters",
            )
        out[cause] = list(dict.fromkeys(phrases))
    return out


def _number(field: str, value, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise SettingsError(field, f"expected a number, got {_kind(value)}")
    if not math.isfinite(value) or not low <= value <= high:
        raise SettingsError(field, f"{value!r} is out of range ({low:g} to {high:g})")
    return value


def _integer(low: int, high: int, zero_allowed: bool = False):
    def check_integer(field: str, value) -> int:
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise SettingsError(field, f"expected an integer, got {_kind(value)}")
        if zero_allowed and value == 0:
            return 0
        if not low <= value <= high:
            extra = " or 0 to turn it off" if zero_allowed else ""
            raise SettingsError(field, f"{value} is out of range ({low} to {high}{extra})")
        return value

    return check_integer


def _kind(value) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}.get(
        type(value), "null" if value is None else type(value).__name__
    )


CHECKS = {
    "name": _name,
    "route_patterns": _route_patterns,
    "conflict_phrases": _phrases,
    "race_window_s": lambda f, v: float(_number(f, v, 0.0, MAX_RACE_WINDOW_SECONDS)),
    "version_params": _names(PARAM_NAME, "a query parameter name", lower=False),
    "version_headers": _kept_header_names,
    "extra_headers": _kept_header_names,
    "secret_headers": _header_names,
    "max_endpoints": _integer(MIN_MAX_ENDPOINTS, MAX_MAX_ENDPOINTS),
    "route_learning_threshold": _integer(
        MIN_LEARNING_THRESHOLD, MAX_LEARNING_THRESHOLD, zero_allowed=True
    ),
}
