"""Status filters as people write them: a code (409) or a class (4xx), as the bounds to match."""

import re

_CLASS = re.compile(r"^([1-5])xx$", re.IGNORECASE)
_CODE = re.compile(r"^[0-9]{1,3}$")
HELP = "a status code (100-599) or a class such as 4xx"


def status_bounds(spec: str | int) -> tuple[int, int]:
    """(lowest, highest) status that `spec` matches: 409 -> (409, 409), "4xx" -> (400, 499).
    Raises ValueError with a message that says what is expected."""
    text = str(spec).strip()
    match = _CLASS.match(text)
    if match:
        first = int(match.group(1)) * 100
        return first, first + 99
    if not _CODE.match(text):
        raise ValueError(f"expected {HELP}, got {text[:40]!r}")
    code = int(text)
    if not 100 <= code <= 599:
        raise ValueError(f"{code} is out of range (100-599); expected {HELP}")
    return code, code
