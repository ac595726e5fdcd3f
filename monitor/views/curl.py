"""'Copy as curl' for one stored request, built from its stored fields only.

Only allow-listed request headers are ever stored (ingest/normalize.py drops secrets before
storage), so no credential can appear here; every argument is shell-quoted, because path,
query and header values are attacker text. The request body is not stored, so there is none.
"""

import shlex

from ingest.normalize import SECRET_HEADERS

# Headers a client sends (response-side ones like etag or location would be wrong to replay).
REQUEST_HEADERS = (
    "content-type",
    "if-match",
    "if-none-match",
    "if-unmodified-since",
    "idempotency-key",
    "x-request-id",
)


def as_curl(row) -> str:
    """A curl command line that repeats the request's method, host, path and query, and its
    allow-listed request headers; the host defaults to example.invalid when none was logged."""
    host = row.host or "example.invalid"
    url = f"https://{host}{row.path}" + (f"?{row.query}" if row.query else "")
    parts = ["curl", "-X", row.method, url]
    headers = {k.lower(): v for k, v in (row.request_headers or {}).items()}
    for name in REQUEST_HEADERS:
        if name in headers and name not in SECRET_HEADERS:
            parts += ["-H", f"{name}: {headers[name]}"]
    return " ".join(shlex.quote(str(p)) for p in parts)
