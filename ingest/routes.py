"""Route templates: the gateway's own, a project's declared patterns, or derived from the path."""

import re
from functools import lru_cache

_ID_SEGMENT = re.compile(
    r"""^(?:
        \d+                                                   # 42
      | [0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}  # UUID
      | [0-9A-HJKMNP-TV-Za-hjkmnp-tv-z]{26}                   # ULID
      | [0-9a-fA-F]{16,}                                      # long hex
    )$""",
    re.VERBOSE,
)
# Opaque ids such as "cus_NffrFeUfNV2Hib" or base64url tokens: long, letters and digits mixed.
_OPAQUE_SEGMENT = re.compile(
    r"^(?=[A-Za-z0-9_\-=.]*\d)(?=[A-Za-z0-9_\-=.]*[A-Za-z])[A-Za-z0-9_\-=.]{16,}$"
)


def _is_id(segment: str) -> bool:
    if segment.isdigit():
        return True
    # Every other id shape is at least 16 characters long; most segments are words.
    if len(segment) < 16:
        return False
    return bool(_ID_SEGMENT.match(segment) or _OPAQUE_SEGMENT.match(segment))


def derive_route(path: str) -> str:
    """Replace id-like path segments with {id}: /v1/orders/42 -> /v1/orders/{id}."""
    segments = path.split("/")
    return "/".join("{id}" if seg and _is_id(seg) else seg for seg in segments)


@lru_cache(maxsize=256)
def _compile(pattern: str) -> re.Pattern[str]:
    parts = re.split(r"(\{[^/{}]*\})", pattern)
    regex = "".join(
        "[^/]+" if p.startswith("{") and p.endswith("}") else re.escape(p) for p in parts
    )
    return re.compile(regex + r"/?$")


def route_for(path: str, patterns: list[str] | tuple[str, ...] = ()) -> str:
    """The first of a project's patterns that matches the path, else the derived route."""
    for pattern in patterns:
        if _compile(pattern).match(path):
            return pattern
    return derive_route(path)
