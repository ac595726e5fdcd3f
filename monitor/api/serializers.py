"""Output shapes of the read API (field names are a contract: docs/api.md)."""

from rest_framework import serializers

from ingest.models import Request
from monitor.models import Project


class ProjectSerializer(serializers.ModelSerializer):
    class Meta:
        model = Project
        fields = ["slug", "name"]


class RequestSerializer(serializers.ModelSerializer):
    endpoint = serializers.IntegerField(source="endpoint_id", help_text="Endpoint id.")
    ts = serializers.DateTimeField(help_text="When the request started (UTC).")
    duration_ms = serializers.FloatField(allow_null=True, help_text="Total latency, milliseconds.")
    request_bytes = serializers.IntegerField(allow_null=True, help_text="Request size, bytes.")
    response_bytes = serializers.IntegerField(allow_null=True, help_text="Response size, bytes.")
    request_headers = serializers.DictField(child=serializers.CharField())
    response_headers = serializers.DictField(child=serializers.CharField())
    resolved_after_ms = serializers.FloatField(
        allow_null=True, help_text="Milliseconds from the conflict to the client's success."
    )

    class Meta:
        model = Request
        fields = [
            "id",
            "endpoint",
            "ts",
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
            "request_headers",
            "response_headers",
            "response_body",
            "resource",
            "cause",
            "cause_reason",
            "retry_outcome",
            "resolved_after_ms",
        ]
        read_only_fields = fields
