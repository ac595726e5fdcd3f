"""The alerts API under /api/v1/projects/{slug}/: rules (read-write, test-send) and incidents
(acknowledge, mute). Every view gets its project through monitor/api/permissions.py (and so
monitor/access.py): a foreign project or a foreign object id answers 404; a read-only member may
read but not write (403)."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from monitor.alerts import actions
from monitor.alerts.models import AlertRule, Incident
from monitor.alerts.serializers import (
    IncidentSerializer,
    MuteSerializer,
    RuleSerializer,
    TestSendSerializer,
)
from monitor.api.permissions import ProjectRole, ProjectScopedMixin


class ProjectScoped(ProjectScopedMixin):
    """The URL's project for the caller (404 if foreign); writes need an admin's role (403)."""

    permission_classes = [ProjectRole]

    def get_serializer_context(self):
        # The schema generator builds serializers without a request for a real project.
        project = None if getattr(self, "swagger_fake_view", False) else self.project
        return {**super().get_serializer_context(), "project": project}


class RuleList(ProjectScoped, generics.ListCreateAPIView):
    """The project's alert rules; POST creates one."""

    serializer_class = RuleSerializer
    pagination_class = None

    def get_queryset(self):
        return AlertRule.objects.filter(project=self.project).order_by("name", "id")

    def perform_create(self, serializer):
        serializer.instance = actions.save_rule(
            AlertRule(project=self.project, **serializer.validated_data)
        )


class RuleDetail(ProjectScoped, generics.RetrieveUpdateDestroyAPIView):
    """One alert rule: read, update (PUT/PATCH), delete."""

    serializer_class = RuleSerializer

    def get_queryset(self):
        return AlertRule.objects.filter(project=self.project)

    def perform_update(self, serializer):
        rule = serializer.instance
        for name, value in serializer.validated_data.items():
            setattr(rule, name, value)
        actions.save_rule(rule)


class RuleTest(ProjectScoped, APIView):
    @extend_schema(
        request=None,
        responses={200: TestSendSerializer},
        description=(
            "Send a test mail to the rule's recipients now. Answers the stored notification with "
            "its delivery state (sent, or failed with the error and the next attempt)."
        ),
    )
    def post(self, request, slug, pk):
        rule = generics.get_object_or_404(AlertRule, project=self.project, pk=pk)
        try:
            notification = actions.send_test(rule)
        except actions.ActionError as exc:
            raise ValidationError({"error": str(exc)}) from None
        return Response(TestSendSerializer({"notification": notification}).data)


class NewestFirst(CursorPagination):
    ordering = ("-opened_at", "-id")
    page_size = 50
    page_size_query_param = "limit"
    max_page_size = 500


class IncidentList(ProjectScoped, generics.ListAPIView):
    """Incidents of the project's rules, newest first, cursor-paginated."""

    serializer_class = IncidentSerializer
    pagination_class = NewestFirst

    @extend_schema(
        parameters=[
            OpenApiParameter("rule", OpenApiTypes.INT, description="Rule id"),
            OpenApiParameter("state", OpenApiTypes.STR, enum=list(Incident.State.values)),
        ]
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        qs = Incident.objects.filter(rule__project=self.project).select_related(
            "rule", "acknowledged_by"
        )
        qs = qs.prefetch_related("notifications")
        rule = self.request.query_params.get("rule")
        if rule:
            if not rule.isdigit():
                raise ValidationError({"error": f"rule: expected a rule id, got {rule[:40]!r}"})
            qs = qs.filter(rule_id=int(rule))
        state = self.request.query_params.get("state")
        if state:
            if state not in Incident.State.values:
                raise ValidationError({"error": "state: one of firing, resolved"})
            qs = qs.filter(state=state)
        return qs


class IncidentDetail(ProjectScoped, generics.RetrieveAPIView):
    serializer_class = IncidentSerializer

    def get_queryset(self):
        return Incident.objects.filter(rule__project=self.project).select_related(
            "rule", "acknowledged_by"
        )


class IncidentAcknowledge(ProjectScoped, APIView):
    @extend_schema(
        request=None,
        responses={200: IncidentSerializer},
        description="Acknowledge the incident: no more reminders. Idempotent.",
    )
    def post(self, request, slug, pk):
        incident = generics.get_object_or_404(Incident, rule__project=self.project, pk=pk)
        return Response(IncidentSerializer(actions.acknowledge(incident, request.user)).data)


class IncidentMute(ProjectScoped, APIView):
    @extend_schema(
        request=MuteSerializer,
        responses={200: IncidentSerializer},
        description="No reminder or resolved mail for this incident until `until`; null unmutes.",
    )
    def post(self, request, slug, pk):
        incident = generics.get_object_or_404(Incident, rule__project=self.project, pk=pk)
        body = MuteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            incident = actions.mute(incident, body.validated_data["until"])
        except actions.ActionError as exc:
            raise ValidationError({"error": str(exc)}) from None
        return Response(IncidentSerializer(incident).data, status=status.HTTP_200_OK)
