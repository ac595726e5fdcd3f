"""The version a write expects, wherever the request carries it.

HTTP's own way is a precondition header (`If-Match`, `If-Unmodified-Since`), but many APIs put
the expected version in a query parameter (`?rev=3-abc` in CouchDB, `?version=7`) or in a
header of their own (`X-If-Match`, `X-Expected-Version`, `ES-ExpectedVersion`). A project names
them in its settings (`version_params`, `version_headers`); the two HTTP headers always count.
The cause rules, precondition coverage and the blind-retry rule all read the signal here.
"""

from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import parse_qsl

# Always a version signal, whatever the project's settings say (RFC 9110 preconditions).
HTTP_PRECONDITIONS = ("if-match", "if-unmodified-since")
MAX_SHOWN = 60  # characters of a value quoted in a reason


@dataclass(frozen=True)
class Signal:
    """A version signal a request sent: where (`?rev` or a header name) and the value."""

    where: str
    value: str

    def __str__(self) -> str:
        value = self.value if len(self.value) <= MAX_SHOWN else self.value[:MAX_SHOWN] + "…"
        if self.where.startswith("?"):
            return f"{self.where}={value}"
        return f"{header_title(self.where)}: {value}"


@dataclass(frozen=True)
class VersionSignals:
    """Where a project's requests carry the version a write expects."""

    headers: tuple[str, ...] = ("if-match", "x-if-match", "x-expected-version")
    params: tuple[str, ...] = ("rev", "_rev", "version", "if_match")

    @classmethod
    def for_project(cls, project) -> "VersionSignals":
        headers = [h.lower() for h in (project.version_headers or ()) if isinstance(h, str)]
        params = [p for p in (project.version_params or ()) if isinstance(p, str)]
        return cls(tuple(dict.fromkeys([*HTTP_PRECONDITIONS, *headers])), tuple(params))

    def sent(self, request_headers: dict | None, query: str | None) -> Signal | None:
        """The first version signal the request carries (headers first), or None."""
        headers = request_headers or {}
        for name in self.headers:
            value = headers.get(name)
            if value:
                return Signal(name, value)
        if query and self.params:
            for name, value in parse_qsl(query, keep_blank_values=False):
                if name in self.params:
                    return Signal(f"?{name}", value)
        return None

    def header_names(self) -> frozenset[str]:
        return frozenset(self.headers)


DEFAULT_SIGNALS = VersionSignals(
    tuple(dict.fromkeys([*HTTP_PRECONDITIONS, "if-match", "x-if-match", "x-expected-version"]))
)


@lru_cache(maxsize=256)  # the project's few version header names, once per conflict each
def header_title(name: str) -> str:
    """`if-match` -> `If-Match` (as people write header names)."""
    return "-".join(part[:1].upper() + part[1:] for part in name.split("-"))
