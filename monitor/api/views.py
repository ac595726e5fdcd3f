"""The read API under /api/v1/. Views parse parameters, call monitor/reads/totals.py or
monitor/reads/series.py, and serialize. Every project-scoped view gets its project through
monitor/api/permissions.py (404 for a project the caller does not belong to)."""

from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from drf_spectacular.views import SpectacularRedocView, SpectacularSwaggerSplitView
from rest_framework import generics, serializers
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from ingest import sampling
from monitor.access import projects_for_user
from monitor.api import pagination, params
from monitor.api.filters import filtered_requests
from monitor.api.permissions import ProjectRole, ProjectScopedMixin
from monitor.api.serializers import ProjectSerializer, RequestSerializer
from monitor.middleware import CSP
from monitor.reads import series, totals
from monitor.reads.requests import past_retention, project_requests
from monitor.rules.causes import CAUSES

# Free text: NUL cannot be stored or compared, so it is refused (400).
TEXT = {"type": "string", "maxLength": params.MAX_TEXT, "pattern": "^[^\\x00]*$"}
ID = {"type": "integer", "minimum": 0, "maximum": params.MAX_ID}
RANGE_PARAMS = [
    OpenApiParameter(
        "from",
        OpenApiTypes.STR,
        description="Start (inclusive): RFC 3339 (UTC if no offset) or relative such as -24h, "
        "-15m, -7d; default 24 hours before `to`.",
    ),
    OpenApiParameter(
        "to",
        OpenApiTypes.STR,
        description="End (exclusive): RFC 3339 or relative; default now. At most "
        "CONFLICTWATCH_MAX_RANGE_DAYS (400 days) after `from`.",
    ),
]
ROLLUP_PARAMS = [
    *RANGE_PARAMS,
    OpenApiParameter("endpoint", ID, description="Endpoint id (from endpoints/)."),
    OpenApiParameter("method", TEXT, description="HTTP method, e.g. PUT."),
    OpenApiParameter("route", TEXT, description="Route template, e.g. /orders/{id}."),
    OpenApiParameter(
        "status",
        {"type": "string", "pattern": "^([1-5][0-9][0-9]|[1-5][xX][xX])$"},
        description="HTTP status code (409) or class (4xx).",
    ),
    OpenApiParameter("cause", OpenApiTypes.STR, enum=list(CAUSES), description="Conflict cause."),
]
REQUEST_PARAMS = [
    *ROLLUP_PARAMS,
    OpenApiParameter("client", TEXT, description="Client identity, exact."),
    OpenApiParameter("request_id", TEXT, description="The gateway's request id."),
    OpenApiParameter("path", TEXT, description="Path prefix, e.g. /v1/orders/42."),
    OpenApiParameter(
        "conflicts",
        OpenApiTypes.STR,
        enum=["true", "false", "1", "0", "yes", "no", "on", "off"],
        description="true: conflicts only (409, 412, 423, 428).",
    ),
]
COUNT_BY_STATUS = serializers.DictField(
    child=serializers.IntegerField(), help_text="Requests per HTTP status code (keys are codes)."
)
COUNT_BY_CAUSE = serializers.DictField(
    child=serializers.IntegerField(), help_text="Conflicts per cause, most first."
)


class ProjectList(generics.ListAPIView):
    """The projects the caller belongs to."""

    serializer_class = ProjectSerializer
    pagination_class = None

    def get_queryset(self):
        return projects_for_user(self.request.user).order_by("slug")


class Summary(ProjectScopedMixin, APIView):
    """Totals for the range, read from the rollups."""

    permission_classes = [ProjectRole]

    @extend_schema(
        parameters=ROLLUP_PARAMS,
        responses=inline_serializer(
            "Summary",
            {
                "requests": serializers.IntegerField(help_text="Requests in the range."),
                "by_status": COUNT_BY_STATUS,
                "conflicts": serializers.IntegerField(
                    help_text="Responses with status 409, 412, 423 or 428."
                ),
                "conflict_rate": serializers.FloatField(
                    help_text="conflicts / requests, a fraction 0-1 (0.2 = 20%)."
                ),
                "by_cause": COUNT_BY_CAUSE,
                "p50_ms": serializers.FloatField(
                    allow_null=True, help_text="Median latency, milliseconds (within 1.6%)."
                ),
                "p95_ms": serializers.FloatField(
                    allow_null=True,
                    help_text="95th percentile latency, milliseconds (within 1.6%).",
                ),
            },
        ),
    )
    def get(self, request, slug):
        return Response(
            totals.summary(self.project, params.time_range(request), params.filters(request))
        )


class Endpoints(ProjectScopedMixin, APIView):
    """Per endpoint with traffic in the range, most requests first."""

    permission_classes = [ProjectRole]

    @extend_schema(
        parameters=ROLLUP_PARAMS,
        responses=inline_serializer(
            "Endpoint",
            {
                "id": serializers.IntegerField(help_text="Endpoint id."),
                "method": serializers.CharField(help_text="HTTP method."),
                "route": serializers.CharField(help_text="Route template."),
                "requests": serializers.IntegerField(help_text="Requests in the range."),
                "by_status": COUNT_BY_STATUS,
                "conflicts": serializers.IntegerField(help_text="409/412/423/428 responses."),
                "conflict_rate": serializers.FloatField(help_text="A fraction 0-1."),
                "p50_ms": serializers.FloatField(
                    allow_null=True, help_text="Median latency, milliseconds (within 1.6%)."
                ),
                "p95_ms": serializers.FloatField(
                    allow_null=True,
                    help_text="95th percentile latency, milliseconds (within 1.6%).",
                ),
                "precondition_coverage": serializers.FloatField(
                    allow_null=True,
                    help_text="Share of writes that sent the version they expect (If-Match, "
                    "If-Unmodified-Since, or a version header or query parameter of the project's "
                    "settings), 0-1; "
                    "null without writes.",
                ),
            },
            many=True,
        ),
    )
    def get(self, request, slug):
        return Response(
            totals.endpoints(self.project, params.time_range(request), params.filters(request))
        )


class Timeseries(ProjectScopedMixin, APIView):
    """Counts or p95 latency per UTC-aligned interval, one series per status, cause or endpoint."""

    permission_classes = [ProjectRole]

    @extend_schema(
        parameters=[
            *ROLLUP_PARAMS,
            OpenApiParameter(
                "metric",
                OpenApiTypes.STR,
                enum=list(series.METRICS),
                description="requests (count), conflicts (count), status (count per status "
                "code), p95_ms (milliseconds); default requests.",
            ),
            OpenApiParameter(
                "interval",
                OpenApiTypes.STR,
                enum=list(series.INTERVALS),
                description="Bucket width, aligned to UTC; default the finest that gives at "
                f"most {series.MAX_POINTS} points. More points than that is a 400.",
            ),
            OpenApiParameter(
                "group",
                OpenApiTypes.STR,
                enum=list(series.GROUPS),
                description="One series per status, cause or endpoint (at most "
                f"{series.MAX_ENDPOINT_SERIES}, the busiest); default one series. p95_ms "
                "groups by endpoint only.",
            ),
        ],
        responses=inline_serializer(
            "Timeseries",
            {
                "series": inline_serializer(
                    "Series",
                    {
                        "name": serializers.CharField(
                            help_text="The metric, a status code, a cause ('none' for "
                            "non-conflicts) or 'METHOD /route'."
                        ),
                        "points": inline_serializer(
                            "Point",
                            {
                                "t": serializers.DateTimeField(
                                    help_text="Start of the bucket, UTC."
                                ),
                                "value": serializers.FloatField(
                                    allow_null=True,
                                    help_text="Requests in the bucket, or p95 in milliseconds "
                                    "(null for a bucket without requests).",
                                ),
                            },
                            many=True,
                        ),
                    },
                    many=True,
                )
            },
        ),
    )
    def get(self, request, slug):
        rng = params.time_range(request)
        query = params.series_query(request, rng)
        try:
            data = series.timeseries(self.project, rng, query, params.filters(request))
        except series.SeriesError as exc:
            raise ValidationError({"error": str(exc)}) from None
        return Response(data)


class NewestFirst(pagination.NewestFirst):
    """Raw requests, newest first, with a note on sampling."""

    def get_paginated_response(self, data):
        # Successful reads may be a sample of the traffic (ingest/sampling.py): say so.
        response = super().get_paginated_response(data)
        response.data.update(sampling_note())
        return response

    def get_paginated_response_schema(self, schema):
        answer = super().get_paginated_response_schema(schema)
        answer["properties"]["sampled"] = {
            "type": "boolean",
            "description": "true when successful GET/HEAD requests are stored as a sample "
            "(every request is still counted in summary/ and timeseries/)",
        }
        answer["properties"]["sample_rate"] = {
            "type": "number",
            "description": "the share of successful GET/HEAD requests stored (1 = all)",
        }
        return answer


def sampling_note() -> dict:
    rate = sampling.rate()
    return {"sampled": rate < 1.0, "sample_rate": rate}


class RequestList(ProjectScopedMixin, generics.ListAPIView):
    """Raw requests, newest first, cursor-paginated (follow `next`)."""

    permission_classes = [ProjectRole]
    serializer_class = RequestSerializer
    pagination_class = NewestFirst

    @extend_schema(parameters=REQUEST_PARAMS)
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        return filtered_requests(self.request, self.project)


class RequestDetail(ProjectScopedMixin, generics.RetrieveAPIView):
    """One raw request of the project."""

    permission_classes = [ProjectRole]
    serializer_class = RequestSerializer

    def get_queryset(self):
        return project_requests(self.project)

    def get_object(self):
        try:
            return super().get_object()
        except Http404:
            gone = past_retention(int(self.kwargs["pk"]))
            if gone:
                raise NotFound(gone) from None
            raise


class SwaggerUI(SpectacularSwaggerSplitView):
    """Swagger UI from our own static files; its start-up script is a separate file, so the
    site-wide Content-Security-Policy (no inline script or style) holds."""

    template_name = "monitor/api/swagger_ui.html"


# ReDoc injects its styles as <style> elements at run time and renders in a blob: worker, so
# this one page needs inline styles and blob: workers; scripts stay 'self' only.
REDOC_CSP = CSP.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'") + (
    "; worker-src 'self' blob:"
)


class ReDoc(SpectacularRedocView):
    template_name = "monitor/api/redoc.html"

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        response["Content-Security-Policy"] = REDOC_CSP
        return response
