"""The alerts API under /api/v1/projects/{slug}/: rules (read-write, test-send), their webhook
and Slack channels (add, remove, send a test) and incidents (acknowledge, mute). Every view gets its project through monitor/api/permissions.py (and so
monitor/access.py): a foreign project or a foreign object id answers 404; a read-only member may
read but not write (403)."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from monitor.access import role_in
from monitor.alerts import actions
from monitor.alerts.models import AlertRule, Channel, Incident
from monitor.alerts.serializers import (
    ChannelEntrySerializer,
    ChannelSerializer,
    IncidentSerializer,
    MuteSerializer,
    RuleSerializer,
    TestSendSerializer,
)
from monitor.api import pagination
from monitor.api.permissions import ProjectRole, ProjectScopedMixin


class ProjectScoped(ProjectScopedMixin):
    """The URL's project for the caller (404 if foreign); writes need an admin's role (403)."""

    permission_classes = [ProjectRole]

    def get_serializer_context(self):
        # The schema generator builds serializers without a request for a real project.
        project = None if getattr(self, "swagger_fake_view", False) else self.project
        parent = getattr(super(), "get_serializer_context", None)
        return {
            **(parent() if parent else {"request": self.request, "view": self}),
            "project": project,
            # Channel URLs may carry a secret: in full only to those who may change them.
            "reveal_targets": project is not None
            and role_in(self.request.user, project) in ProjectRole.ADMINS,
        }


class RuleList(ProjectScoped, generics.ListCreateAPIView):
    """The project's alert rules; POST creates one."""

    serializer_class = RuleSerializer
    pagination_class = None

    def get_queryset(self):
        return AlertRule.objects.filter(project=self.project).order_by("name", "id")

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        channels = data.pop("channels", None)
        rule = actions.save_rule(AlertRule(project=self.project, **data))
        if channels:
            rule.new_secrets = actions.set_channels(rule, channels)
        serializer.instance = rule


class RuleDetail(ProjectScoped, generics.RetrieveUpdateDestroyAPIView):
    """One alert rule: read, update (PUT/PATCH), delete."""

    serializer_class = RuleSerializer

    def get_queryset(self):
        return AlertRule.objects.filter(project=self.project)

    def perform_update(self, serializer):
        rule = serializer.instance
        data = dict(serializer.validated_data)
        channels = data.pop("channels", None)
        for name, value in data.items():
            setattr(rule, name, value)
        actions.save_rule(rule)
        if channels is not None:
            rule.new_secrets = actions.set_channels(rule, channels)


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


def _rule_of(view, pk: int) -> AlertRule:
    return generics.get_object_or_404(AlertRule, project=view.project, pk=pk)


class ChannelList(ProjectScoped, APIView):
    @extend_schema(responses={200: ChannelSerializer(many=True)})
    def get(self, request, slug, pk):
        """The rule's webhook and Slack channels (its email recipients are in the rule)."""
        rule = _rule_of(self, pk)
        return Response(
            ChannelSerializer(
                rule.channels.all(), many=True, context=self.get_serializer_context()
            ).data
        )

    @extend_schema(request=ChannelEntrySerializer, responses={201: ChannelSerializer})
    def post(self, request, slug, pk):
        """Add a webhook or Slack channel. A webhook's answer carries its signing secret, shown
        this once."""
        rule = _rule_of(self, pk)
        body = ChannelEntrySerializer(data=request.data)
        body.is_valid(raise_exception=True)
        if body.validated_data["kind"] == "email":
            raise ValidationError({"error": "kind: email recipients are the rule's recipients"})
        try:
            channel, secret = actions.add_channel(
                rule, body.validated_data["kind"], body.validated_data["target"]
            )
        except actions.ActionError as exc:
            raise ValidationError({"error": str(exc)}) from None
        data = ChannelSerializer(channel, context=self.get_serializer_context()).data
        if secret:
            data["secret"] = secret
        return Response(data, status=status.HTTP_201_CREATED)


class ChannelDetail(ProjectScoped, APIView):
    def _channel(self, pk: int, channel_id: int) -> Channel:
        return generics.get_object_or_404(
            Channel, rule__project=self.project, rule_id=pk, pk=channel_id
        )

    @extend_schema(responses={200: ChannelSerializer})
    def get(self, request, slug, pk, channel_id):
        channel = self._channel(pk, channel_id)
        return Response(ChannelSerializer(channel, context=self.get_serializer_context()).data)

    @extend_schema(responses={204: None})
    def delete(self, request, slug, pk, channel_id):
        """Remove the channel; its deliveries stay in the incidents' logs."""
        actions.remove_channel(self._channel(pk, channel_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class ChannelTest(ChannelDetail):
    @extend_schema(
        request=None,
        responses={200: TestSendSerializer},
        description="POST a test message to the channel now. Answers the stored notification "
        "with its delivery state (sent, or failed with the receiver's answer and the next "
        "attempt).",
    )
    def post(self, request, slug, pk, channel_id):
        notification = actions.send_channel_test(self._channel(pk, channel_id))
        return Response(TestSendSerializer({"notification": notification}).data)


class NewestFirst(pagination.NewestFirst):
    ordering = ("-opened_at", "-id")


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
