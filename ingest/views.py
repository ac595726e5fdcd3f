"""HTTP ingest: POST /ingest/v1/logs, for shippers and gateways (JSON answer) and for Kinesis
Firehose HTTP endpoint deliveries (answered in Firehose's own shape). Parse the request, hand it
to the pipeline, answer."""

import time

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from ingest import problems
from ingest.decode import JSON_TYPES, BodyError, check_content_type, split_items
from ingest.formats import FORMATS, aws, unknown_format_error
from ingest.intake import Refused, authenticate, database_errors_refused, media_type, receive
from ingest.pipeline import collector_paused, ingest_items

TOKEN_HINT = "send Authorization: Bearer <token>"
FIREHOSE_TOKEN_HINT = "set the delivery stream's access key to the source token"
# Firehose sends these on every delivery; either marks a request as Firehose's.
FIREHOSE_HEADERS = ("HTTP_X_AMZ_FIREHOSE_REQUEST_ID", "HTTP_X_AMZ_FIREHOSE_ACCESS_KEY")
MAX_REQUEST_ID = 128


def error(status: int, message: str, retry_after: int | None = None) -> JsonResponse:
    response = JsonResponse({"error": message}, status=status)
    if retry_after is not None:
        response["Retry-After"] = str(retry_after)
    if status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="ingest"'
    return response


def _format(request: HttpRequest, source) -> str | None:
    fmt = request.GET.get("format") or source.format or None
    if fmt is not None and fmt not in FORMATS:
        raise Refused(400, unknown_format_error(fmt))
    return fmt


def _checked_content_type(request: HttpRequest) -> None:
    try:
        check_content_type(request.META.get("CONTENT_TYPE", ""))
    except BodyError as exc:
        raise Refused(exc.status, exc.message) from None


@csrf_exempt
@require_POST
def logs(request: HttpRequest) -> JsonResponse:
    if any(request.META.get(header) for header in FIREHOSE_HEADERS):
        return firehose(request)
    source = None
    try:
        with database_errors_refused():
            source = authenticate(request, TOKEN_HINT)
            fmt = _format(request, source)
            _checked_content_type(request)
            body = receive(request, source)
            try:
                with collector_paused():
                    outcome = ingest_items(source, split_items(body), fmt)
            except BodyError as exc:
                raise Refused(exc.status, exc.message) from None
    except Refused as refused:
        problems.record(source, refused.status, refused.message)
        return error(refused.status, refused.message, refused.retry_after)
    answer = outcome.answer()
    if not outcome.usable:
        first = outcome.errors[0]["error"] if outcome.errors else "no records"
        answer["error"] = f"no usable record in the body: {first}"
        return JsonResponse(answer, status=400)
    return JsonResponse(answer)


# --- Kinesis Firehose ----------------------------------------------------------------------


def _firehose_answer(
    request_id: str, status: int = 200, message: str | None = None, retry_after=None
) -> JsonResponse:
    """Firehose's answer: {"requestId": <the delivery's>, "timestamp": <ms>}, plus errorMessage
    on failure. Firehose retries anything but 200, then backs the records up to S3."""
    answer = {"requestId": request_id, "timestamp": int(time.time() * 1000)}
    if message is not None:
        answer["errorMessage"] = message
    response = JsonResponse(answer, status=status)
    if retry_after is not None:
        response["Retry-After"] = str(retry_after)
    return response


def firehose(request: HttpRequest) -> JsonResponse:
    """A Firehose HTTP endpoint delivery: {"requestId", "timestamp", "records": [{"data"}]}.

    200 when every usable record is stored (records no parser can read are counted as rejected
    in the batch; a retry could not fix them); 400 when nothing in the delivery is usable, so
    Firehose keeps it in its S3 backup; 401, 413, 415, 429 and 503 as for other shippers.
    """
    request_id = request.META.get("HTTP_X_AMZ_FIREHOSE_REQUEST_ID", "")[:MAX_REQUEST_ID]
    source = None
    try:
        with database_errors_refused():
            source = authenticate(request, FIREHOSE_TOKEN_HINT)
            fmt = _format(request, source)
            if media_type(request) not in JSON_TYPES:
                raise Refused(415, "Firehose deliveries are application/json")
            body = receive(request, source)
            try:
                items = split_items(body)
            except BodyError as exc:
                raise Refused(exc.status, exc.message) from None
            envelope = items[0].value if len(items) == 1 else None
            if not aws.is_firehose(envelope):
                raise Refused(400, "body is not a Firehose delivery {requestId, records}")
            if isinstance(envelope["requestId"], str) and envelope["requestId"]:
                request_id = envelope["requestId"][:MAX_REQUEST_ID]
            if not envelope["records"]:
                return _firehose_answer(request_id)
            try:
                with collector_paused():
                    outcome = ingest_items(source, items, fmt)
            except BodyError as exc:
                raise Refused(exc.status, exc.message) from None
    except Refused as refused:
        problems.record(source, refused.status, refused.message)
        return _firehose_answer(request_id, refused.status, refused.message, refused.retry_after)
    if not outcome.usable:
        first = outcome.errors[0]["error"] if outcome.errors else "no records"
        return _firehose_answer(request_id, 400, f"no usable record in the delivery: {first}")
    return _firehose_answer(request_id)
