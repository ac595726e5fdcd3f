"""The read API under /api/v1/. Views parse parameters, call monitor/queries.py, serialize."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import generics, serializers
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from ingest.models import Request
from monitor import queries
from monitor.access import project_for_user, projects_for_user
from monitor.api import params
from monitor.api.serializers import ProjectSerializer, RequestSerializer

RANGE_PARAMS = [
    OpenApiParameter(
        "from", OpenApiTypes.STR, description="RFC 3339 or relative (-24h); default -24h"
    ),
    OpenApiParameter("to", OpenApiTypes.STR, description="RFC 3339 or relative; default now"),
]
ROLLUP_PARAMS = [
    *RANGE_PARAMS,
    OpenApiParameter("endpoint", OpenApiTypes.INT, description="Endpoint id"),
    OpenApiParameter("method", OpenApiTypes.STR),
    OpenApiParameter("route", OpenApiTypes.STR, description="Route template, e.g. /orders/{id}"),
    OpenApiParameter("status", OpenApiTypes.INT, description="HTTP status"),
    OpenApiParameter("cause", OpenApiTypes.STR, description="Conflict cause"),
]


class ProjectList(generics.ListAPIView):
    """The projects the caller belongs to."""

    serializer_class = ProjectSerializer
    pagination_class = None

    def get_queryset(self):
        return projects_for_user(self.request.user).order_by("slug")


class ProjectScoped(APIView):
    def project(self):
        return project_for_user(self.request.user, self.kwargs["slug"])


class Summary(ProjectScoped):
    @extend_schema(
        parameters=ROLLUP_PARAMS,
        responses=inline_serializer(
            "Summary",
            {
                "requests": serializers.IntegerField(),
                "by_status": serializers.DictField(child=serializers.IntegerField()),
                "conflicts": serializers.IntegerField(),
                "conflict_rate": serializers.FloatField(help_text="Fraction, 0-1."),
                "by_cause": serializers.DictField(child=serializers.IntegerField()),
                "p50_ms": serializers.FloatField(allow_null=True, help_text="Milliseconds."),
                "p95_ms": serializers.FloatField(allow_null=True, help_text="Milliseconds."),
            },
        ),
    )
    def get(self, request, slug):
        project = self.project()
        return Response(
            queries.summary(project, params.time_range(request), params.filters(request))
        )


class Endpoints(ProjectScoped):
    @extend_schema(
        parameters=ROLLUP_PARAMS,
        responses=inline_serializer(
            "Endpoint",
            {
                "id": serializers.IntegerField(),
                "method": serializers.CharField(),
                "route": serializers.CharField(),
                "requests": serializers.IntegerField(),
                "by_status": serializers.DictField(child=serializers.IntegerField()),
                "conflicts": serializers.IntegerField(),
                "conflict_rate": serializers.FloatField(help_text="Fraction, 0-1."),
                "p50_ms": serializers.FloatField(allow_null=True, help_text="Milliseconds."),
                "p95_ms": serializers.FloatField(allow_null=True, help_text="Milliseconds."),
                "precondition_coverage": serializers.FloatField(
                    allow_null=True, help_text="Share of writes that sent If-Match, 0-1."
                ),
            },
            many=True,
        ),
    )
    def get(self, request, slug):
        project = self.project()
        return Response(
            queries.endpoints(project, params.time_range(request), params.filters(request))
        )


class NewestFirst(CursorPagination):
    ordering = ("-ts", "-id")
    page_size = 50
    page_size_query_param = "limit"
    max_page_size = 500


class RequestList(generics.ListAPIView):
    """Raw requests, newest first, cursor-paginated."""

    serializer_class = RequestSerializer
    pagination_class = NewestFirst

    @extend_schema(
        parameters=[
            *ROLLUP_PARAMS,
            OpenApiParameter("client", OpenApiTypes.STR),
            OpenApiParameter("request_id", OpenApiTypes.STR),
            OpenApiParameter("path", OpenApiTypes.STR, description="Path prefix"),
        ]
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        project = project_for_user(self.request.user, self.kwargs["slug"])
        rng = params.time_range(self.request)
        f = params.filters(self.request)
        qs = Request.objects.filter(project=project, ts__gte=rng.start, ts__lt=rng.end)
        if f.endpoint is not None:
            qs = qs.filter(endpoint_id=f.endpoint)
        if f.method:
            qs = qs.filter(method=f.method.upper())
        if f.route:
            qs = qs.filter(route=f.route)
        if f.status is not None:
            qs = qs.filter(status=f.status)
        if f.cause:
            qs = qs.filter(cause=f.cause)
        qp = self.request.query_params
        if qp.get("client"):
            qs = qs.filter(client=qp["client"])
        if qp.get("request_id"):
            qs = qs.filter(request_id=qp["request_id"])
        if qp.get("path"):
            qs = qs.filter(path__startswith=qp["path"])
        return qs


class RequestDetail(generics.RetrieveAPIView):
    serializer_class = RequestSerializer

    def get_queryset(self):
        project = project_for_user(self.request.user, self.kwargs["slug"])
        return Request.objects.filter(project=project)
