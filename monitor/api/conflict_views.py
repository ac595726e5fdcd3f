"""Conflict intelligence in the read API: conflicts/, conflicts/{id}/, offenders/, hotspots/,
remedies/. Views parse parameters, call monitor/reads/conflicts.py or monitor/reads/remedies.py, and
serialize."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics
from rest_framework.response import Response
from rest_framework.views import APIView

from monitor.api import params
from monitor.api.filters import filtered_requests
from monitor.api.permissions import ProjectRole, ProjectScopedMixin
from monitor.api.serializers import (
    ConflictDetailSerializer,
    ConflictSerializer,
    HotspotSerializer,
    OffenderSerializer,
    RemedySerializer,
)
from monitor.api.views import REQUEST_PARAMS, ROLLUP_PARAMS, NewestFirst
from monitor.reads import conflicts, remedies
from monitor.reads.requests import project_conflicts
from monitor.rules.outcomes import OUTCOMES

CONFLICT_PARAMS = [
    *REQUEST_PARAMS,
    OpenApiParameter(
        "outcome", OpenApiTypes.STR, enum=list(OUTCOMES), description="Retry outcome."
    ),
    OpenApiParameter("resource", OpenApiTypes.STR, description="Resource, exact: /v1/orders/42."),
]
MAX_HOTSPOTS = 200


class ConflictList(ProjectScopedMixin, generics.ListAPIView):
    """Conflict requests (409, 412, 423, 428), newest first, cursor-paginated (follow `next`),
    each with its cause, the reason that decided it, its retry outcome and race winner."""

    permission_classes = [ProjectRole]
    serializer_class = ConflictSerializer
    pagination_class = NewestFirst

    @extend_schema(parameters=CONFLICT_PARAMS)
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        return conflicts.conflicts(
            filtered_requests(self.request, self.project),
            outcome=params.choice_param(self.request, "outcome", OUTCOMES),
            resource=params.text_param(self.request, "resource"),
        )


class ConflictDetail(ProjectScopedMixin, generics.RetrieveAPIView):
    """One conflict with its story: the race it lost (or won), the conflict it retried, and
    what the client did next."""

    permission_classes = [ProjectRole]
    serializer_class = ConflictDetailSerializer

    def get_queryset(self):
        return project_conflicts(self.project)

    def get_object(self):
        row = super().get_object()
        row.story = conflicts.conflict_story(row)
        return row


class Offenders(ProjectScopedMixin, APIView):
    permission_classes = [ProjectRole]

    @extend_schema(
        summary="Clients ranked by the conflicts they receive or cause",
        parameters=[
            *ROLLUP_PARAMS,
            OpenApiParameter(
                "order",
                OpenApiTypes.STR,
                enum=list(conflicts.OFFENDER_ORDERS),
                description="Rank by conflicts received (default), conflict rate, or caused.",
            ),
            OpenApiParameter("client", OpenApiTypes.STR, description="One client only."),
        ],
        responses=OffenderSerializer(many=True),
    )
    def get(self, request, slug):
        rows = conflicts.offenders(
            self.project,
            params.time_range(request),
            params.filters(request),
            order=params.choice_param(request, "order", conflicts.OFFENDER_ORDERS, "conflicts"),
            client=params.text_param(request, "client"),
        )
        return Response(OffenderSerializer(rows, many=True).data)


class Hotspots(ProjectScopedMixin, APIView):
    permission_classes = [ProjectRole]

    @extend_schema(
        summary="Resources ranked by conflicts, with their race pairs",
        parameters=[
            *ROLLUP_PARAMS,
            OpenApiParameter(
                "limit", OpenApiTypes.INT, description=f"1-{MAX_HOTSPOTS}; default 20."
            ),
        ],
        responses=HotspotSerializer(many=True),
    )
    def get(self, request, slug):
        limit = params.int_param(request, "limit", 1, MAX_HOTSPOTS)
        rows = conflicts.hotspots(
            self.project,
            params.time_range(request),
            params.filters(request),
            limit=limit or conflicts.HOTSPOT_LIMIT,
        )
        return Response(HotspotSerializer(rows, many=True).data)


class Remedies(ProjectScopedMixin, APIView):
    permission_classes = [ProjectRole]

    @extend_schema(
        summary="What to do about each cause, with this project's evidence",
        parameters=ROLLUP_PARAMS,
        responses=RemedySerializer(many=True),
    )
    def get(self, request, slug):
        rows = remedies.remedies(self.project, params.time_range(request), params.filters(request))
        return Response(RemedySerializer(rows, many=True).data)
