"""Deploys of a project: GET lists them (newest first, filtered by `from`/`to`), POST records one
(CI does this after a release). Charts mark them and the endpoint page compares the hour after a
deploy with the hour before."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from monitor import deploys
from monitor.api import params
from monitor.api.pagination import NewestFirst
from monitor.api.permissions import ProjectRole, ProjectScopedMixin
from monitor.api.views import RANGE_PARAMS, TEXT
from monitor.models import Deploy


class DeploySerializer(serializers.ModelSerializer):
    version = serializers.CharField(max_length=200, help_text="The release, e.g. v2.4.0 or a SHA.")
    ts = serializers.DateTimeField(
        required=False, help_text="When it went live (RFC 3339); default now."
    )
    environment = serializers.CharField(
        max_length=64, required=False, allow_blank=True, default="", help_text="e.g. production."
    )
    description = serializers.CharField(
        max_length=2000, required=False, allow_blank=True, default=""
    )
    url = serializers.CharField(
        max_length=2000,
        required=False,
        allow_blank=True,
        default="",
        help_text="A link to the release (http or https).",
    )
    created_by = serializers.CharField(
        source="created_by.username", read_only=True, allow_null=True, default=None
    )

    class Meta:
        model = Deploy
        fields = [
            "id",
            "version",
            "ts",
            "environment",
            "description",
            "url",
            "created_at",
            "created_by",
        ]
        read_only_fields = ["id", "created_at", "created_by"]


class DeployList(ProjectScopedMixin, generics.ListAPIView):
    """The project's deploys in the range, newest first, cursor-paginated; POST records one."""

    permission_classes = [ProjectRole]
    serializer_class = DeploySerializer
    pagination_class = NewestFirst

    @extend_schema(
        parameters=[
            *RANGE_PARAMS,
            OpenApiParameter("environment", TEXT, description="Exact environment."),
        ]
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        rng = params.time_range(self.request)
        qs = Deploy.objects.filter(project=self.project, ts__gte=rng.start, ts__lt=rng.end)
        environment = params.text_param(self.request, "environment")
        if environment is not None:
            qs = qs.filter(environment=environment)
        return qs.select_related("created_by")

    @extend_schema(request=DeploySerializer, responses={201: DeploySerializer})
    def post(self, request, slug):
        """Record a deploy: {"version", "ts"?, "environment"?, "description"?, "url"?}."""
        body = DeploySerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            deploy = deploys.record(self.project, user=request.user, **body.validated_data)
        except deploys.DeployError as exc:
            raise ValidationError({"error": str(exc)}) from None
        return Response(DeploySerializer(deploy).data, status=status.HTTP_201_CREATED)
