"""The native record: the one shape every gateway format is parsed into."""

from datetime import datetime

import msgspec


class NativeRecord(msgspec.Struct):
    """A normalized request, ready to store (see the native record in docs/architecture.md).

    ingest/normalize.py builds it with positional arguments: a new field goes last, or there
    too."""

    ts: datetime
    method: str
    path: str
    status: int
    query: str | None = None
    host: str | None = None
    route: str = ""
    # Where the route came from: gateway, declared, openapi, learned or derived.
    route_source: str = ""
    service: str | None = None
    duration_ms: float | None = None
    request_bytes: int | None = None
    response_bytes: int | None = None
    upstream_status: int | None = None
    client: str | None = None
    client_ip: str | None = None
    user_agent: str | None = None
    request_id: str | None = None
    request_headers: dict[str, str] = {}
    response_headers: dict[str, str] = {}
    response_body: str | None = None
    # Derived by normalization.
    resource: str = ""
    dedup_key: str = ""


# A native-shaped dict with this key set has a duration that does not enter its dedup key
# (ingest/normalize.py: dedup_key). Not a string, so that no JSON record can carry it: only a
# format's parser sets it.
DURATION_OUTSIDE_KEY = object()

# A native-shaped dict with this key holds under it the fields a line format unescaped (an
# nginx `combined` line's `\x22`), as the log wrote them: the dedup key is the one those give,
# so that a line stored before its escapes were read is the same line. Set by parsers only.
AS_WRITTEN = object()


class RecordError(ValueError):
    """A record that cannot be accepted; the message names the field and the problem."""
