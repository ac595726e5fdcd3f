"""API errors as JSON that names the problem: {"error": "parameter: what is wrong"}.

Also documents them: `document_errors` is a drf-spectacular post-processing hook that adds the
error answers every API operation can give to the OpenAPI document. And the site-wide handlers:
404 as JSON under /api/, and a database that fails answered 503 with Retry-After (JSON under
/api/, a plain page elsewhere), never a 500.
"""

import logging
import sys

from django.db import DatabaseError
from django.http import HttpResponse, JsonResponse
from django.template import loader
from django.views.defaults import page_not_found
from django.views.defaults import server_error as django_server_error
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_handler

from monitor.reads.timerange import RangeError


def _flatten(data) -> str:
    """DRF's field errors ({"name": ["This field is required."]}) as one line naming the field."""
    if isinstance(data, dict):
        name, value = next(iter(data.items()), ("", ""))
        inner = _flatten(value)
        return f"{name}: {inner}" if name not in ("", "non_field_errors") else inner
    if isinstance(data, list):
        return " ".join(_flatten(item) for item in data)
    return str(data)


log = logging.getLogger(__name__)
RETRY_AFTER_DATABASE = 10
DATABASE_UNAVAILABLE = "database unavailable; retry later"


def exception_handler(exc, context):
    if isinstance(exc, DatabaseError):
        log.error("database error in the API", exc_info=exc)
        return Response(
            {"error": DATABASE_UNAVAILABLE},
            status=503,
            headers={"Retry-After": str(RETRY_AFTER_DATABASE)},
        )
    if isinstance(exc, RangeError):
        exc = ValidationError({"error": str(exc)})
    response = drf_handler(exc, context)
    if response is None:
        return None
    data = response.data
    if isinstance(data, dict) and "detail" in data:
        response.data = {"error": str(data["detail"])}
    elif isinstance(data, dict) and set(data) == {"error"}:
        response.data = {"error": _flatten(data["error"])}
    else:
        response.data = {"error": _flatten(data)}
    return response


ERROR_SCHEMA = {
    "type": "object",
    "properties": {
        "error": {
            "type": "string",
            "description": "What is wrong; a bad parameter's name comes first ('status: …').",
        }
    },
    "required": ["error"],
}
ERROR_ANSWERS = {
    "400": "A parameter or the body is invalid; `error` names it.",
    "401": "No credentials, or a token that is not an API token (ingest tokens are refused).",
    "403": "Signed in, but the caller's role in the project does not allow this.",
    "404": "No such project or object, or one the caller does not belong to.",
    "429": "Too many requests for this token; retry after the Retry-After header's seconds.",
    "503": "The database is unavailable; retry after the Retry-After header's seconds.",
}


UNSUPPORTED_MEDIA_TYPE = "The body's Content-Type is not one this operation reads."


def document_errors(result, generator, request, public):
    """Add the Error schema and the error answers (400/401/403/404/429/503) to every operation,
    and 415 to every operation that takes a body."""
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    ref = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for path in result.get("paths", {}).values():
        for method, operation in path.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            answers = operation.setdefault("responses", {})
            for code, description in ERROR_ANSWERS.items():
                answer = answers.setdefault(code, {"description": description, "content": ref})
                if code in ("429", "503"):
                    answer.setdefault("headers", {})["Retry-After"] = {
                        "description": "Seconds to wait before the next call.",
                        "schema": {"type": "integer"},
                    }
            if "requestBody" in operation:
                answers.setdefault("415", {"description": UNSUPPORTED_MEDIA_TYPE, "content": ref})
    return result


def server_error(request):
    """Site-wide 500 handler: a database error (down, out of connections) anywhere, a view or a
    middleware, is a 503 with Retry-After: JSON under /api/, a plain page that needs no
    database elsewhere. Any other error keeps Django's 500 page."""
    if not isinstance(sys.exc_info()[1], DatabaseError):
        return django_server_error(request)
    if request.path.startswith("/api/"):
        response = JsonResponse({"error": DATABASE_UNAVAILABLE}, status=503)
    else:
        response = HttpResponse(loader.render_to_string("503.html"), status=503)
    response["Retry-After"] = str(RETRY_AFTER_DATABASE)
    return response


def not_found(request, exception=None):
    """Site-wide 404 handler: JSON under /api/ (a path no route matches, such as a slug with a
    character slugs cannot hold), Django's page elsewhere."""
    if request.path.startswith("/api/"):
        return JsonResponse({"error": "not found"}, status=404)
    return page_not_found(request, exception)
