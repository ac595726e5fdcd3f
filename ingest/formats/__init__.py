"""Gateway and shipper formats: one module each, all listed in FORMATS.

A format module has NAME, `detect(obj) -> bool` (does this decoded object look like mine?) and
`parse(obj) -> dict`, which returns a native-shaped dict for ingest/normalize.py or raises
RecordError naming the problem. `expand(obj)` unwraps shipper envelopes first.
"""

from collections.abc import Iterator

from ingest.formats import native
from ingest.record import RecordError

FORMATS = {module.NAME: module for module in (native,)}
# Detection order: the most specific shapes first, native last.
DETECTION_ORDER = [m for m in FORMATS.values() if m is not native] + [native]


def unknown_format_error(name: str) -> str:
    return f"unknown format {name[:40]!r}; known formats: {', '.join(sorted(FORMATS))}"


def expand(obj) -> Iterator[object]:
    """Unwrap shipper envelopes (a `message` or `log` string holding a JSON object)."""
    yield obj


def detect(obj: dict):
    for module in DETECTION_ORDER:
        if module.detect(obj):
            return module
    raise RecordError("record: no known format recognises it; pass ?format=NAME")


def to_native(obj, fmt: str | None) -> dict:
    """A native-shaped dict from one decoded record, in the given format or detected."""
    if not isinstance(obj, dict):
        raise RecordError(f"record: expected a JSON object, got {type(obj).__name__}")
    module = FORMATS[fmt] if fmt else detect(obj)
    return module.parse(obj)
