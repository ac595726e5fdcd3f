"""Output shapes of the read API (field names are a contract: docs/api.md)."""

from django.core.validators import RegexValidator
from rest_framework import serializers

from ingest.formats import FORMATS
from ingest.models import Request, Source
from monitor.models import Project


class ProjectSerializer(serializers.ModelSerializer):
    class Meta:
        model = Project
        fields = ["slug", "name"]


class Milliseconds(serializers.FloatField):
    """A logged duration in ms, to the nanosecond: a gateway's seconds times 1000 carry binary
    floating-point noise (0.000487052 s is 0.48705200000000004 ms)."""

    def to_representation(self, value):
        return round(super().to_representation(value), 6)


class RequestSerializer(serializers.ModelSerializer):
    endpoint = serializers.IntegerField(source="endpoint_id", help_text="Endpoint id.")
    ts = serializers.DateTimeField(help_text="When the request started (UTC).")
    duration_ms = Milliseconds(allow_null=True, help_text="Total latency, milliseconds.")
    request_bytes = serializers.IntegerField(allow_null=True, help_text="Request size, bytes.")
    response_bytes = serializers.IntegerField(allow_null=True, help_text="Response size, bytes.")
    request_headers = serializers.DictField(
        child=serializers.CharField(), help_text="Allow-listed request headers, names lower case."
    )
    response_headers = serializers.DictField(
        child=serializers.CharField(), help_text="Allow-listed response headers, names lower case."
    )
    resolved_after_ms = Milliseconds(
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
        max_length=100,
        trim_whitespace=False,
        validators=[RegexValidator(r"^[^\x00-\x1f\x7f]+$", "control characters are not allowed")],
        help_text="Unique within the project, e.g. the gateway's name.",
    )
    format = serializers.ChoiceField(
        choices=["", *sorted(FORMATS)],
        required=False,
        default="",
        help_text="Default ingest format; empty means detected per record.",
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


# -- conflict intelligence (monitor/api/conflict_views.py) ------------------------------------
class RequestRefSerializer(serializers.ModelSerializer):
    """A reference to another request: enough to show it and link to requests/{id}/."""

    ts = serializers.DateTimeField(help_text="When the request started (UTC).")

    class Meta:
        model = Request
        fields = ["id", "request_id", "client", "ts", "method", "path", "status"]
        read_only_fields = fields


class RaceWinnerSerializer(serializers.ModelSerializer):
    ts = serializers.DateTimeField(help_text="When the winning write started (UTC).")

    class Meta:
        model = Request
        fields = ["id", "request_id", "client", "ts"]
        read_only_fields = fields


class ConflictSerializer(RequestSerializer):
    race_winner = RaceWinnerSerializer(
        allow_null=True,
        help_text="The other client's successful write that won the race, or null.",
    )

    class Meta(RequestSerializer.Meta):
        fields = [*RequestSerializer.Meta.fields, "race_winner"]
        read_only_fields = fields


class ConflictDetailSerializer(ConflictSerializer):
    # From monitor/reads/conflicts.py: conflict_story(), set on the row as `story`.
    race_losers = RequestRefSerializer(
        source="story.race_losers", many=True, help_text="Conflicts whose race this request won."
    )
    retry_of = RequestRefSerializer(
        source="story.retry_of",
        allow_null=True,
        help_text="The conflict this request was the next attempt after.",
    )
    next_requests = RequestRefSerializer(
        source="story.next_requests",
        many=True,
        help_text="What the client did next: its requests to the same resource within 10 "
        "minutes, up to the write that decided the retry outcome.",
    )

    class Meta(ConflictSerializer.Meta):
        fields = [*ConflictSerializer.Meta.fields, "race_losers", "retry_of", "next_requests"]
        read_only_fields = fields


class OffenderSerializer(serializers.Serializer):
    client = serializers.CharField()
    requests = serializers.IntegerField(help_text="Requests of this client in the range.")
    conflicts = serializers.IntegerField(help_text="Conflicts this client received.")
    conflict_rate = serializers.FloatField(help_text="conflicts / requests, a fraction 0-1.")
    caused = serializers.IntegerField(
        help_text="Other clients' conflicts where this client's write won the race or created "
        "the duplicate."
    )
    suffered = serializers.IntegerField(
        help_text="This client's conflicts that another client's write caused."
    )


class RacePairSerializer(serializers.Serializer):
    winner = serializers.CharField(help_text="Client whose write won.")
    loser = serializers.CharField(help_text="Client that got the conflict.")
    races = serializers.IntegerField(help_text="Races between them on this resource.")


class HotspotSerializer(serializers.Serializer):
    resource = serializers.CharField(help_text="Concrete path, query string dropped.")
    route = serializers.CharField(allow_null=True)
    conflicts = serializers.IntegerField()
    by_cause = serializers.DictField(child=serializers.IntegerField())
    race_pairs = RacePairSerializer(many=True)


class RemedySerializer(serializers.Serializer):
    cause = serializers.CharField()
    conflicts = serializers.IntegerField()
    remedy = serializers.CharField(help_text="What to change, in one or two sentences.")
    evidence = serializers.ListField(
        child=serializers.CharField(), help_text="Sentences with this project's numbers."
    )
    data = serializers.DictField(help_text="The numbers behind the evidence.")
