"""The checks every ingest door makes before parsing: who is sending, what, and how much.

Shared by POST /ingest/v1/logs (JSON and Firehose answers) and the OTLP endpoints, which each
render a `Refused` in their own answer shape. Order: the source token (401), the content type
(415), the content encoding (415), the project's backlog (429), the body size before and after
decompression (413). Database failures anywhere become 503 with Retry-After.
"""

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError
from django.http import HttpRequest

from ingest.auth import source_for_token, token_from
from ingest.decode import BodyError, check_encoding, gunzip
from ingest.models import Source
from ingest.pipeline import backlog_full

log = logging.getLogger(__name__)
RETRY_AFTER_BACKLOG = 30
RETRY_AFTER_DATABASE = 10


class Refused(Exception):
    """The request is refused as a whole; `status` is the HTTP status to answer with."""

    def __init__(self, status: int, message: str, *, retry_after: int | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.retry_after = retry_after


def media_type(request: HttpRequest) -> str:
    return request.META.get("CONTENT_TYPE", "").split(";", 1)[0].strip().lower()


def authenticate(request: HttpRequest, hint: str) -> Source:
    """The source whose token the request carries; `hint` says how to send one."""
    source = source_for_token(token_from(request))
    if source is None:
        raise Refused(401, f"missing or unknown source token; {hint}")
    return source


def read_body(request: HttpRequest, limit: int) -> bytes:
    """The raw body, refusing more than `limit` bytes without reading them all."""
    length = request.META.get("CONTENT_LENGTH") or ""
    if length.strip():
        try:
            declared = int(length)
        except ValueError:
            raise Refused(400, "Content-Length is not a number") from None
        if declared > limit:
            raise Refused(413, f"body is {declared} bytes, over the limit of {limit}")
        return request.read(declared)
    # Chunked uploads (no Content-Length): read from the server's stream, bounded.
    stream = request.META.get("wsgi.input")
    if stream is None or not request.META.get("wsgi.input_terminated"):
        return request.read()
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise Refused(413, f"body is over the limit of {limit} bytes")
    return data


def receive(request: HttpRequest, source: Source) -> bytes:
    """The decompressed body, after the encoding, backlog and size checks (content type is the
    caller's: each door accepts its own)."""
    limit = settings.CONFLICTWATCH_MAX_BODY_BYTES
    try:
        encoding = check_encoding(request.META.get("HTTP_CONTENT_ENCODING", ""))
    except BodyError as exc:
        raise Refused(exc.status, exc.message) from None
    if backlog_full(source.project):
        raise Refused(
            429,
            "too many batches waiting for aggregation; retry later",
            retry_after=RETRY_AFTER_BACKLOG,
        )
    body = read_body(request, limit)
    if encoding == "gzip":
        try:
            body = gunzip(body, limit)
        except BodyError as exc:
            raise Refused(exc.status, exc.message) from None
    return body


@contextmanager
def database_errors_refused() -> Iterator[None]:
    """Turn a database failure into a 503 that shippers retry; nothing half-stored is kept
    (storage writes in one transaction)."""
    try:
        yield
    except (OperationalError, InterfaceError):
        log.warning("database unavailable during ingest", exc_info=True)
        raise Refused(
            503, "database unavailable; retry later", retry_after=RETRY_AFTER_DATABASE
        ) from None
    except DatabaseError:
        log.exception("database error during ingest")
        raise Refused(
            503, "database error; retry later", retry_after=RETRY_AFTER_DATABASE
        ) from None
