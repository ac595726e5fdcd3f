"""Output shapes of the read API (field names are a contract: docs/api.md)."""

from rest_framework import serializers

from ingest.models import Request, Source
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
    request_headers = serializers.DictField(
        child=serializers.CharField(), help_text="Allow-listed request headers, names lower case."
    )
    response_headers = serializers.DictField(
        child=serializers.CharField(), help_text="Allow-listed response headers, names lower case."
    )
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
        extra_kwargs = {
            "id": {"help_text": "Request id in ConflictWatch (for requests/{id}/)."},
            "method": {"help_text": "HTTP method, upper case."},
            "path": {"help_text": "Request path without the query string."},
            "query": {"help_text": "Query string without '?'; credential values redacted."},
            "route": {"help_text": "Route template, e.g. /orders/{id}."},
            "status": {"help_text": "HTTP status code of the response."},
            "host": {"help_text": "Host the request was addressed to."},
            "service": {"help_text": "Upstream service name, when the gateway gives one."},
            "upstream_status": {"help_text": "Status the upstream answered, if different."},
            "client": {"help_text": "Consumer / API key id / user id; else the client IP."},
            "client_ip": {"help_text": "Client IP address."},
            "user_agent": {"help_text": "User-Agent header as sent (untrusted text)."},
            "request_id": {"help_text": "The gateway's request id."},
            "response_body": {
                "help_text": "Response body excerpt, at most 2 KiB (untrusted text)."
            },
            "resource": {"help_text": "The concrete resource addressed: the path without query."},
            "cause": {
                "help_text": "Conflict cause (409/412/423/428 only), e.g. duplicate; else null."
            },
            "cause_reason": {"help_text": "Which signal decided the cause, in words."},
            "retry_outcome": {
                "help_text": "For conflicts: pending, resolved, retried, blind or abandoned."
            },
        }


class SourceSerializer(serializers.ModelSerializer):
    """An ingest source; its token is never shown again after create or rotate."""

    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(
        max_length=100, help_text="Unique within the project, e.g. the gateway's name."
    )
    format = serializers.CharField(
        max_length=32,
        required=False,
        allow_blank=True,
        default="",
        help_text="Default ingest format (kong, nginx, …); empty means detected per record.",
    )
    token_hint = serializers.CharField(
        read_only=True, help_text="The first 8 characters of the token, to recognise it."
    )
    created_at = serializers.DateTimeField(read_only=True, help_text="UTC.")
    last_used_at = serializers.DateTimeField(
        read_only=True, allow_null=True, help_text="UTC, to the minute; null if never used."
    )
    revoked_at = serializers.DateTimeField(
        read_only=True, allow_null=True, help_text="UTC; null while the token is accepted."
    )

    class Meta:
        model = Source
        fields = ["id", "name", "format", "token_hint", "created_at", "last_used_at", "revoked_at"]
        # The (project, name) uniqueness is checked by ingest.sources.create_source.
        validators: list = []


class SourceWithTokenSerializer(SourceSerializer):
    token = serializers.CharField(
        read_only=True,
        help_text="The ingest token in clear. Shown only in this answer; store it now.",
    )

    class Meta(SourceSerializer.Meta):
        fields = [*SourceSerializer.Meta.fields, "token"]
