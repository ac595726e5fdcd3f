"""`export/requests.csv`: the `requests/` filter as CSV, newest first, streamed.

Rows are read in keyset pages of (ts, id), so memory stays flat and no page is skipped or
repeated. At most CONFLICTWATCH_EXPORT_MAX_ROWS rows (default 100,000; `limit` asks for fewer):
narrow the range with `from`/`to` for more. Logged text is attacker text: a cell that a
spreadsheet would run as a formula (starting with = + - @, tab or carriage return) is written
with a leading apostrophe.
"""

import csv
import json
from collections.abc import Iterator

from django.conf import settings
from django.db.models import Q
from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.renderers import JSONRenderer
from rest_framework.views import APIView

from monitor.api import params
from monitor.api.filters import filtered_requests
from monitor.api.permissions import ProjectRole, ProjectScopedMixin
from monitor.api.views import REQUEST_PARAMS

COLUMNS = [
    "id",
    "ts",
    "endpoint",
    "method",
    "path",
    "query",
    "route",
    "status",
    "host",
    "service",
    "duration_ms",
    "request_bytes",
    "response_bytes",
    "upstream_status",
    "client",
    "client_ip",
    "user_agent",
    "request_id",
    "resource",
    "cause",
    "cause_reason",
    "retry_outcome",
    "resolved_after_ms",
    "request_headers",
    "response_headers",
    "response_body",
]
_FIELDS = [("endpoint_id" if c == "endpoint" else c) for c in COLUMNS]
PAGE = 2000
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def cell(value) -> str | int | float:
    """One CSV cell: None as empty, headers as JSON, text neutralised against formulas."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return round(value, 6)  # milliseconds to the nanosecond, without binary noise
    if isinstance(value, int):
        return value
    if isinstance(value, dict):
        value = json.dumps(value, ensure_ascii=False, sort_keys=True)
    elif not isinstance(value, str):
        value = value.isoformat().replace("+00:00", "Z")
    if value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


class _Echo:
    """csv.writer wants a file; this one hands each written line back."""

    def write(self, line: str) -> str:
        return line


def rows(queryset, limit: int) -> Iterator[list]:
    """The queryset's rows, newest first, as CSV cells; keyset pages of (ts, id)."""
    qs = queryset.order_by("-ts", "-id").values_list(*_FIELDS)
    ts_at, id_at = _FIELDS.index("ts"), _FIELDS.index("id")
    sent = 0
    after = None
    while sent < limit:
        page_qs = qs
        if after is not None:
            ts, pk = after
            page_qs = qs.filter(Q(ts__lt=ts) | Q(ts=ts, id__lt=pk))
        page = list(page_qs[: min(PAGE, limit - sent)])
        for row in page:
            yield [cell(v) for v in row]
        sent += len(page)
        if len(page) < PAGE:
            return
        after = (page[-1][ts_at], page[-1][id_at])


def stream(queryset, limit: int) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(COLUMNS)
    for row in rows(queryset, limit):
        yield writer.writerow(row)


class ErrorsAsJSON(BaseContentNegotiation):
    """The CSV itself bypasses renderers; errors before it are always JSON, whatever the client's
    Accept header or `format` parameter says."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None


class RequestsCSV(ProjectScopedMixin, APIView):
    """The `requests/` filter as CSV (UTF-8, header row, newest first), streamed."""

    permission_classes = [ProjectRole]
    renderer_classes = [JSONRenderer]
    content_negotiation_class = ErrorsAsJSON

    @extend_schema(
        parameters=[
            *REQUEST_PARAMS,
            OpenApiParameter(
                "limit",
                {"type": "integer", "minimum": 1},
                description="At most this many rows (default and maximum "
                "CONFLICTWATCH_EXPORT_MAX_ROWS, 100,000).",
            ),
        ],
        responses={
            (200, "text/csv"): OpenApiResponse(
                OpenApiTypes.STR,
                description="Columns: " + ", ".join(COLUMNS) + ". Times are UTC (RFC 3339), "
                "durations milliseconds, sizes bytes, headers JSON objects. Text that starts "
                "with = + - @ (or a tab / carriage return) has a leading apostrophe.",
            )
        },
    )
    def get(self, request, slug):
        max_rows = settings.CONFLICTWATCH_EXPORT_MAX_ROWS
        limit = params.int_param(request, "limit", 1, max_rows) or max_rows
        queryset = filtered_requests(request, self.project)
        response = StreamingHttpResponse(
            stream(queryset, limit), content_type="text/csv; charset=utf-8"
        )
        response["Content-Disposition"] = f'attachment; filename="{self.project.slug}-requests.csv"'
        return response
