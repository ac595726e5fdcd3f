"""API shapes of rules, incidents and their mail (field names are a contract: DESIGN.md)."""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from ingest.models import Source
from monitor.alerts.actions import channel_target_error
from monitor.alerts.models import (
    MAX_CHANNELS,
    MAX_MIN_REQUESTS,
    MAX_RECIPIENTS,
    MAX_TARGET_LENGTH,
    AlertRule,
    Channel,
    Incident,
    Notification,
    masked_target,
)
from monitor.models import Endpoint

EMAIL = "email"


class ChannelEntrySerializer(serializers.Serializer):
    # `id` and `secret` are answered for some entries only (an email recipient has neither), so
    # they are optional rather than read-only: a read-only field is documented as always present.
    id = serializers.IntegerField(
        required=False,
        help_text="The channel's id (webhook and slack channels only); ignored when sent.",
    )
    kind = serializers.ChoiceField(choices=[EMAIL, "webhook", "slack"])
    target = serializers.CharField(
        max_length=MAX_TARGET_LENGTH, help_text="An email address, or the URL to POST to."
    )
    secret = serializers.CharField(
        required=False,
        help_text="A new webhook channel's signing secret (HMAC-SHA256 of the body, sent as "
        "X-ConflictWatch-Signature: sha256=<hex>): in the answer that created the channel, "
        "never again; ignored when sent.",
    )


@extend_schema_field(ChannelEntrySerializer(many=True))
class ChannelsField(serializers.Field):
    """`channels`: the rule's email recipients and its webhook and Slack channels as one list
    of {"kind", "target"}. Writing it replaces them all; a channel kept keeps its secret."""

    def __init__(self, **kwargs):
        super().__init__(source="*", required=False, **kwargs)

    def to_representation(self, rule: AlertRule) -> list[dict]:
        new = getattr(rule, "new_secrets", {})
        out: list[dict] = [{"kind": EMAIL, "target": r} for r in rule.recipients]
        reveal = self.context.get("reveal_targets", False)
        for channel in rule.channels.all():
            target = channel.target if reveal else masked_target(channel.target)
            entry = {"id": channel.id, "kind": channel.kind, "target": target}
            if channel.id in new:
                entry["secret"] = new[channel.id]
            out.append(entry)
        return out

    def to_internal_value(self, data) -> dict:
        if not isinstance(data, list) or not all(isinstance(c, dict) for c in data):
            raise serializers.ValidationError('expected a list of {"kind", "target"}')
        emails: list[str] = []
        hooks: list[dict] = []
        for i, entry in enumerate(data):
            kind, target = entry.get("kind"), entry.get("target")
            if not isinstance(kind, str) or not isinstance(target, str):
                raise serializers.ValidationError(f"[{i}]: kind and target are strings")
            target = target.strip()
            if kind == EMAIL:
                try:
                    validate_email(target)
                except DjangoValidationError:
                    raise serializers.ValidationError(
                        f"[{i}]: {target[:80]!r} is not a valid email address"
                    ) from None
                emails.append(target)
                continue
            error = channel_target_error(kind, target)
            if error:
                raise serializers.ValidationError(f"[{i}]: {error}")
            if {"kind": kind, "target": target} not in hooks:
                hooks.append({"kind": kind, "target": target})
        if len(hooks) > MAX_CHANNELS:
            raise serializers.ValidationError(f"at most {MAX_CHANNELS} webhook and slack channels")
        return {"recipients": emails, "channels": hooks}


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
        help_text="Email addresses (the email entries of `channels`).",
    )
    channels = ChannelsField()
    source = serializers.PrimaryKeyRelatedField(
        queryset=Source.objects.none(),
        allow_null=True,
        required=False,
        help_text="silence_min only: the source to watch (id from sources/); null for the "
        "whole project.",
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
            "source",
            "recipients",
            "channels",
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
            self.fields["source"].queryset = Source.objects.filter(project=project)

    def validate(self, attrs):
        if "channels" in attrs and "recipients" in self.initial_data:
            raise serializers.ValidationError(
                {"channels": "give channels or recipients, not both (channels hold the emails)"}
            )
        channels = attrs.pop("channels", None)
        if not self.instance:
            attrs.setdefault("recipients", [])
        rule = self.instance or AlertRule(project=self.context["project"])
        for name, value in attrs.items():
            setattr(rule, name, value)
        try:
            rule.clean()
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.message_dict) from None
        attrs["recipients"] = rule.recipients
        if channels is not None:
            attrs["channels"] = channels
        return attrs


class ChannelSerializer(serializers.ModelSerializer):
    target = serializers.CharField(
        help_text="The URL; scheme, host and first path segment only for read-only members "
        "(Slack's and many paging tools' URLs carry a secret)."
    )

    class Meta:
        model = Channel
        fields = ["id", "kind", "target", "created_at"]
        read_only_fields = fields

    def to_representation(self, instance):
        data = super().to_representation(instance)
        if not self.context.get("reveal_targets", False):
            data["target"] = masked_target(instance.target)
        return data


class NotificationSerializer(serializers.ModelSerializer):
    next_attempt_at = serializers.DateTimeField(
        allow_null=True, help_text="When it is tried (again); null once sent or given up."
    )
    channel = serializers.IntegerField(
        source="channel_id", allow_null=True, help_text="The channel's id; null for mail."
    )
    target = serializers.CharField(
        source="shown_target",
        help_text="Where it went: the addresses, or the channel's URL without its path.",
    )

    class Meta:
        model = Notification
        fields = [
            "id",
            "kind",
            "via",
            "channel",
            "target",
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
            "no_data_since",
            "notifications",
        ]
        read_only_fields = fields


class MuteSerializer(serializers.Serializer):
    until = serializers.DateTimeField(
        allow_null=True, help_text="RFC 3339; at most 30 days ahead; null unmutes."
    )


class TestSendSerializer(serializers.Serializer):
    notification = NotificationSerializer()
