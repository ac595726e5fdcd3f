"""HTTP ingest: POST /ingest/v1/logs. Parse the request, hand it to the domain, answer JSON."""

import logging

from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from ingest.auth import source_for_token, token_from
from ingest.decode import BodyError, check_content_type, check_encoding, gunzip
from ingest.formats import FORMATS, unknown_format_error
from ingest.pipeline import backlog_full, ingest_body

log = logging.getLogger(__name__)
RETRY_AFTER_BACKLOG = 30
RETRY_AFTER_DATABASE = 10


def error(status: int, message: str, **headers) -> JsonResponse:
    response = JsonResponse({"error": message}, status=status)
    for name, value in headers.items():
        response[name.replace("_", "-")] = str(value)
    return response


def read_body(request: HttpRequest, limit: int) -> bytes:
    """The raw body, refusing more than `limit` bytes without reading them all."""
    length = request.META.get("CONTENT_LENGTH") or ""
    if length.strip():
        try:
            declared = int(length)
        except ValueError:
            raise BodyError(400, "Content-Length is not a number") from None
        if declared > limit:
            raise BodyError(413, f"body is {declared} bytes, over the limit of {limit}")
        return request.read(declared)
    # Chunked uploads (no Content-Length): read from the server's stream, bounded.
    stream = request.META.get("wsgi.input")
    if stream is None or not request.META.get("wsgi.input_terminated"):
        return request.read()
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise BodyError(413, f"body is over the limit of {limit} bytes")
    return data


@csrf_exempt
@require_POST
def logs(request: HttpRequest) -> JsonResponse:
    limit = settings.CONFLICTWATCH_MAX_BODY_BYTES
    try:
        source = source_for_token(token_from(request))
        if source is None:
            return error(
                401,
                "missing or unknown source token; send Authorization: Bearer <token>",
                WWW_Authenticate='Bearer realm="ingest"',
            )
        fmt = request.GET.get("format") or source.format or None
        if fmt is not None and fmt not in FORMATS:
            return error(400, unknown_format_error(fmt))
        check_content_type(request.META.get("CONTENT_TYPE", ""))
        encoding = check_encoding(request.META.get("HTTP_CONTENT_ENCODING", ""))
        if backlog_full(source.project):
            return error(
                429,
                "too many batches waiting for aggregation; retry later",
                Retry_After=RETRY_AFTER_BACKLOG,
            )
        body = read_body(request, limit)
        if encoding == "gzip":
            body = gunzip(body, limit)
        answer = ingest_body(source, body, fmt)
    except BodyError as exc:
        return error(exc.status, exc.message)
    except (OperationalError, InterfaceError):
        log.warning("database unavailable during ingest", exc_info=True)
        return error(503, "database unavailable; retry later", Retry_After=RETRY_AFTER_DATABASE)
    except DatabaseError:
        log.exception("database error during ingest")
        return error(503, "database error; retry later", Retry_After=RETRY_AFTER_DATABASE)
    status = 200 if answer["accepted"] or answer["duplicates"] else 400
    if status == 400:
        first = answer["errors"][0]["error"] if answer["errors"] else "no records"
        answer["error"] = f"no usable record in the body: {first}"
    return JsonResponse(answer, status=status)
