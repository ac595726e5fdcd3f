"""GET and PATCH /api/v1/projects/{slug}/: a project's settings (admins change them), the
caller's role, and how many endpoints it has against its limit."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import JSONParser
from rest_framework.response import Response
from rest_framework.views import APIView

from monitor import project_settings
from monitor.access import role_in
from monitor.api.permissions import ProjectRole, ProjectScopedMixin
from monitor.reads.routes import endpoint_limit
from monitor.team.members import ROLES

NAMES = serializers.ListField(child=serializers.CharField())


class SettingsSerializer(serializers.Serializer):
    """The settings a PATCH may change (any subset); documentation of the body."""

    name = serializers.CharField(max_length=project_settings.MAX_NAME)
    route_patterns = serializers.ListField(
        child=serializers.CharField(max_length=512),
        max_length=project_settings.MAX_PATTERNS,
        help_text="Templates that win over derivation, e.g. /v1/orders/{id}; a gateway's own "
        "route still wins over them.",
    )
    conflict_phrases = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        help_text="{cause: [phrases]} found in response bodies, beyond the built-in ones; "
        "causes: lock, stale_version, idempotency, duplicate.",
    )
    race_window_s = serializers.FloatField(
        min_value=0, max_value=3600, help_text="Seconds within which a write races; default 5."
    )
    version_params = serializers.ListField(
        child=serializers.CharField(max_length=64),
        max_length=project_settings.MAX_NAMES,
        help_text="Query parameters that carry the version a write expects.",
    )
    version_headers = serializers.ListField(
        child=serializers.CharField(max_length=64),
        max_length=project_settings.MAX_NAMES,
        help_text="Request headers that carry the version a write expects.",
    )
    extra_headers = serializers.ListField(
        child=serializers.CharField(max_length=64),
        max_length=project_settings.MAX_NAMES,
        help_text="Header names kept beside the built-in allow-list (never a secret one).",
    )
    secret_headers = serializers.ListField(
        child=serializers.CharField(max_length=64),
        max_length=project_settings.MAX_NAMES,
        help_text="Header names dropped as secrets, beyond the built-in ones.",
    )
    max_endpoints = serializers.IntegerField(
        min_value=project_settings.MIN_MAX_ENDPOINTS,
        max_value=project_settings.MAX_MAX_ENDPOINTS,
        help_text="Past this many endpoints, new routes are counted under "
        "'{method} /{overflow}'; default 2000.",
    )
    route_learning_threshold = serializers.IntegerField(
        min_value=0,
        max_value=project_settings.MAX_LEARNING_THRESHOLD,
        help_text="Distinct values within a day under one parent route that make a segment a "
        f"learned parameter; 0 turns learning off, else at least "
        f"{project_settings.MIN_LEARNING_THRESHOLD}; default 100.",
    )


class OverflowEndpointSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    method = serializers.CharField()


class EndpointLimitSerializer(serializers.Serializer):
    endpoints = serializers.IntegerField(help_text="Endpoints the project has now.")
    max_endpoints = serializers.IntegerField()
    overflowed = serializers.BooleanField(
        help_text="True once new routes were counted under '{method} /{overflow}'."
    )
    overflow_endpoints = OverflowEndpointSerializer(many=True)
    overflow_requests_24h = serializers.IntegerField(
        help_text="Requests of the last 24 hours counted under the overflow endpoints."
    )
    how_to_fix = serializers.CharField(allow_null=True, help_text="What to do, when overflowed.")


class ProjectSettingsSerializer(SettingsSerializer):
    slug = serializers.CharField()
    role = serializers.ChoiceField(
        ROLES,
        help_text="The caller's role: a viewer reads; an admin also changes the project's "
        "settings, routes, sources, members and rules.",
    )
    endpoint_limit = EndpointLimitSerializer()


class ProjectDetail(ProjectScopedMixin, APIView):
    """One project: its settings, the caller's role, and its endpoints against the limit.
    PATCH changes any of the settings (project admins only); each bad value is a 400 naming
    the setting."""

    permission_classes = [ProjectRole]
    write_roles = ProjectRole.ADMINS
    # Settings are JSON; a form or multipart body is a 415, not a guess at its lists.
    parser_classes = [JSONParser]

    def _answer(self, request) -> Response:
        project = self.project
        data = project_settings.read(project)
        data["role"] = role_in(request.user, project)
        data["endpoint_limit"] = endpoint_limit(project)
        return Response(data)

    @extend_schema(responses=ProjectSettingsSerializer)
    def get(self, request, slug):
        return self._answer(request)

    @extend_schema(request=SettingsSerializer(partial=True), responses=ProjectSettingsSerializer)
    def patch(self, request, slug):
        try:
            project_settings.update(self.project, request.data)
        except project_settings.SettingsError as exc:
            raise ValidationError({"error": str(exc)}) from None
        return self._answer(request)
