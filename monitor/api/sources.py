"""Ingest sources of a project: every member lists them; admins create, rotate and revoke their
tokens.

A token is shown once, in the answer that made it (create or rotate); only its SHA-256 is kept.
"""

from django.db import IntegrityError
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from ingest.models import Source
from ingest.sources import SourceError, create_source, revoke_source, rotate_source
from monitor.api.permissions import ProjectRole, ProjectScopedMixin
from monitor.api.serializers import SourceSerializer, SourceWithTokenSerializer


class AdminWrites(ProjectScopedMixin):
    permission_classes = [ProjectRole]


def _with_token(source: Source, token: str) -> dict:
    data = SourceSerializer(source).data
    data["token"] = token
    return data


class SourceList(AdminWrites, generics.ListAPIView):
    """The project's ingest sources, revoked ones included (newest first)."""

    serializer_class = SourceSerializer
    pagination_class = None

    def get_queryset(self):
        return Source.objects.filter(project=self.project).order_by("-created_at", "-id")

    @extend_schema(request=SourceSerializer, responses={201: SourceWithTokenSerializer})
    def post(self, request, slug):
        """Create a source; the answer carries its token, shown this once."""
        serializer = SourceSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        name = serializer.validated_data["name"]
        fmt = serializer.validated_data.get("format", "")
        if Source.objects.filter(project=self.project, name=name).exists():
            raise ValidationError(
                {"error": f"name: a source named {name[:100]!r} exists; rotate its token instead"}
            )
        try:
            source, token = create_source(self.project.slug, name, fmt)
        except (SourceError, IntegrityError):
            # Two creates of the same name at once: the unique constraint decides.
            raise ValidationError({"error": f"name: source {name!r} already exists"}) from None
        return Response(_with_token(source, token), status=status.HTTP_201_CREATED)


class SourceDetail(AdminWrites, generics.RetrieveDestroyAPIView):
    """One source; DELETE revokes its token (the source and its data stay, listed as revoked)."""

    serializer_class = SourceSerializer

    def get_queryset(self):
        return Source.objects.filter(project=self.project)

    def perform_destroy(self, instance: Source) -> None:
        revoke_source(instance)


class SourceRotate(AdminWrites, APIView):
    """Give the source a new token; the old one stops working at once."""

    @extend_schema(request=None, responses={200: SourceWithTokenSerializer})
    def post(self, request, slug, pk):
        source = generics.get_object_or_404(Source.objects.filter(project=self.project), pk=pk)
        token = rotate_source(source)
        return Response(_with_token(source, token))
