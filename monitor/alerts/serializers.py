"""API shapes of rules, incidents and their mail (field names are a contract: DESIGN.md)."""

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers

from monitor.alerts.models import (
    MAX_MIN_REQUESTS,
    MAX_RECIPIENTS,
    AlertRule,
    Incident,
    Notification,
)
from monitor.models import Endpoint


class RuleSerializer(serializers.ModelSerializer):
    endpoint = serializers.PrimaryKeyRelatedField(
        queryset=Endpoint.objects.none(),
        allow_null=True,
        required=False,
        help_text="Endpoint id; null for every endpoint of the project.",
    )
    threshold = serializers.FloatField(
        help_text=(
            "conflict_rate, status_rate: a fraction (0.2 = 20%); conflicts: a count; "
            "p95_ms: milliseconds; anomaly: a factor over the usual rate at that hour (2 = double)."
        )
    )
    window_minutes = serializers.IntegerField(
        default=10, min_value=1, max_value=1440, help_text="Minutes the metric is measured over."
    )
    status = serializers.CharField(
        allow_blank=True,
        required=False,
        default="",
        max_length=3,
        help_text='A status ("409") or a class ("5xx"); status_rate needs one.',
    )
    recipients = serializers.ListField(
        child=serializers.EmailField(max_length=254),
        max_length=MAX_RECIPIENTS,
        required=False,
        default=list,
        help_text="Email addresses.",
    )
    cooldown_minutes = serializers.IntegerField(
        default=10,
        min_value=0,
        max_value=10080,
        help_text="Minutes after an incident resolves before the rule may open another.",
    )
    reminder_minutes = serializers.IntegerField(
        allow_null=True,
        required=False,
        min_value=1,
        max_value=10080,
        help_text="Mail a firing, unacknowledged incident again after this many minutes; null: never.",
    )
    min_requests = serializers.IntegerField(
        default=20,
        min_value=0,
        max_value=MAX_MIN_REQUESTS,
        help_text="Rates, latency and anomaly give no verdict on fewer requests in the window.",
    )
    last_value = serializers.FloatField(
        read_only=True,
        allow_null=True,
        help_text="The value at the last evaluation, in the rule's unit.",
    )
    evaluated_minute = serializers.DateTimeField(read_only=True, allow_null=True)

    class Meta:
        model = AlertRule
        fields = [
            "id",
            "name",
            "metric",
            "threshold",
            "window_minutes",
            "endpoint",
            "cause",
            "status",
            "recipients",
            "cooldown_minutes",
            "reminder_minutes",
            "min_requests",
            "enabled",
            "last_value",
            "evaluated_minute",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "created_at", "updated_at"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        project = self.context.get("project")
        if project is not None:
            # A foreign endpoint id is "does not exist", as a foreign project is.
            self.fields["endpoint"].queryset = Endpoint.objects.filter(project=project)

    def validate(self, attrs):
        rule = self.instance or AlertRule(project=self.context["project"])
        for name, value in attrs.items():
            setattr(rule, name, value)
        try:
            rule.clean()
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.message_dict) from None
        attrs["recipients"] = rule.recipients
        return attrs


class NotificationSerializer(serializers.ModelSerializer):
    next_attempt_at = serializers.DateTimeField(
        allow_null=True, help_text="When it is tried (again); null once sent or given up."
    )

    class Meta:
        model = Notification
        fields = [
            "id",
            "kind",
            "state",
            "attempts",
            "created_at",
            "next_attempt_at",
            "sent_at",
            "last_error",
            "recipients",
        ]
        read_only_fields = fields


class IncidentSerializer(serializers.ModelSerializer):
    rule = serializers.IntegerField(source="rule_id", help_text="Rule id.")
    rule_name = serializers.CharField(source="rule.name")
    value = serializers.FloatField(help_text="The value that opened it, in the rule's unit.")
    peak_value = serializers.FloatField()
    last_value = serializers.FloatField(allow_null=True)
    threshold = serializers.FloatField(help_text="The rule's threshold when it opened.")
    acknowledged_by = serializers.CharField(
        source="acknowledged_by.username", allow_null=True, default=None
    )
    notifications = NotificationSerializer(many=True, read_only=True)

    class Meta:
        model = Incident
        fields = [
            "id",
            "rule",
            "rule_name",
            "state",
            "opened_at",
            "resolved_at",
            "value",
            "peak_value",
            "last_value",
            "threshold",
            "details",
            "acknowledged_at",
            "acknowledged_by",
            "muted_until",
            "notifications",
        ]
        read_only_fields = fields


class MuteSerializer(serializers.Serializer):
    until = serializers.DateTimeField(
        allow_null=True, help_text="RFC 3339; at most 30 days ahead; null unmutes."
    )


class TestSendSerializer(serializers.Serializer):
    notification = NotificationSerializer()
