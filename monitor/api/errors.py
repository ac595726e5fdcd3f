"""API errors as JSON that names the problem: {"error": "...", ...}."""

from rest_framework.views import exception_handler as drf_handler

from monitor.timerange import RangeError


def exception_handler(exc, context):
    if isinstance(exc, RangeError):
        from rest_framework.exceptions import ValidationError

        exc = ValidationError({"error": str(exc)})
    response = drf_handler(exc, context)
    if response is not None and isinstance(response.data, dict) and "detail" in response.data:
        response.data = {"error": str(response.data["detail"])}
    return response
