"""A project's routes: GET routes/ lists every template with its source, POST routes/import/
takes an OpenAPI 3 or Swagger 2 document, DELETE routes/{id}/ removes an imported template or
a learned rule, GET routes/test/?path= says how a path would be routed."""

from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import BaseParser
from rest_framework.response import Response
from rest_framework.views import APIView

from ingest.routes import SOURCES
from monitor.api.permissions import ProjectRole, ProjectScopedMixin
from monitor.models import RouteRule
from monitor.reads import routes as route_reads
from monitor.routing import changes
from monitor.routing.openapi import MAX_DOCUMENT_BYTES, DocumentError, read_document
from monitor.tasks import after_routing_change

DOCUMENT_TYPES = (
    "application/json",
    "application/yaml",
    "application/x-yaml",
    "application/vnd.oai.openapi",
    "application/vnd.oai.openapi+json",
    "text/yaml",
    "text/x-yaml",
    "text/plain",
)


class RouteSerializer(serializers.Serializer):
    template = serializers.CharField(help_text="Route template, e.g. /orders/{id}.")
    source = serializers.ChoiceField(
        SOURCES,
        help_text="gateway: the gateway's own route; declared: the project's route_patterns; "
        "openapi: imported from an OpenAPI document; learned: a parameter learned from "
        "cardinality (the segment after its parent, and everything below); derived: id-like "
        "segments replaced.",
    )
    id = serializers.IntegerField(
        allow_null=True, help_text="For openapi and learned: the id to DELETE routes/{id}/."
    )
    methods = serializers.ListField(
        child=serializers.CharField(), help_text="The document's methods, or those seen."
    )
    endpoints = serializers.IntegerField(help_text="Endpoints with this route now.")
    evidence = serializers.DictField(
        allow_null=True,
        help_text="For learned rules: distinct_values, threshold, window_hours, examples, "
        "learned_at.",
    )
    created_at = serializers.DateTimeField(allow_null=True)
    removed_at = serializers.DateTimeField(
        allow_null=True, help_text="A removed learned rule: it is not applied nor learned again."
    )


class ImportAnswerSerializer(serializers.Serializer):
    added = serializers.IntegerField(help_text="Templates that were new to the project.")
    routes = serializers.ListField(
        child=serializers.CharField(), help_text="Every template of the document, prefixed."
    )
    skipped = serializers.ListField(
        child=serializers.DictField(), help_text="[{path, reason}] of paths that were not usable."
    )
    title = serializers.CharField()
    spec = serializers.CharField(help_text="OpenAPI 3.x or Swagger 2.0.")
    base_path = serializers.CharField(help_text="The prefix the templates were given.")


class RouteTestSerializer(serializers.Serializer):
    path = serializers.CharField()
    template = serializers.CharField()
    source = serializers.ChoiceField(SOURCES)


class DocumentParser(BaseParser):
    """The request body as bytes, up to the document limit: read by monitor/routing/openapi.py."""

    media_type = "*/*"

    def parse(self, stream, media_type=None, parser_context=None) -> bytes:
        if stream is None:
            return b""
        data = stream.read(MAX_DOCUMENT_BYTES + 1)
        if len(data) > MAX_DOCUMENT_BYTES:
            raise ValidationError(
                {"error": f"document: over {MAX_DOCUMENT_BYTES // (1024 * 1024)} MiB"}
            )
        return data


class RouteList(ProjectScopedMixin, APIView):
    """The project's route templates with their source; learned rules with their evidence."""

    permission_classes = [ProjectRole]

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "source", OpenApiTypes.STR, enum=list(SOURCES), description="Only this source."
            )
        ],
        responses=RouteSerializer(many=True),
    )
    def get(self, request, slug):
        source = request.query_params.get("source")
        if source is not None and source not in SOURCES:
            raise ValidationError({"error": f"source: one of {', '.join(SOURCES)}"})
        return Response(RouteSerializer(route_reads.routes(self.project, source), many=True).data)


class RouteImport(ProjectScopedMixin, APIView):
    """Import the templates of an OpenAPI 3 or Swagger 2 document (JSON or YAML, the body as
    it is); they route later records, and endpoints they name alike are merged. Admins only."""

    permission_classes = [ProjectRole]
    write_roles = ProjectRole.ADMINS
    parser_classes = [DocumentParser]

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "base_path",
                {"type": "string", "maxLength": 200, "pattern": "^(/[^\\x00]*)?$"},
                description="Prefix for the templates; default the path of the document's "
                "first server URL (OpenAPI 3) or its basePath (Swagger 2). Empty for none.",
            )
        ],
        request={
            "application/json": {"type": "object", "description": "The OpenAPI document."},
            "application/yaml": {"type": "string", "description": "The OpenAPI document."},
        },
        responses={200: ImportAnswerSerializer},
    )
    def post(self, request, slug):
        base_path = request.query_params.get("base_path")
        if base_path is not None and len(base_path) > 200:
            raise ValidationError({"error": "base_path: at most 200 characters"})
        if base_path is not None and "\x00" in base_path:
            raise ValidationError({"error": "base_path: a NUL character is not a path's"})
        data = request.data if isinstance(request.data, bytes) else b""
        try:
            document = read_document(data, base_path)
        except DocumentError as exc:
            raise ValidationError({"error": str(exc)}) from None
        added = changes.import_document(self.project, document)
        after_routing_change(self.project)
        return Response(
            {
                "added": len(added),
                "routes": [r.template for r in document.routes],
                "skipped": [{"path": p, "reason": r} for p, r in document.skipped],
                "title": document.title,
                "spec": document.spec,
                "base_path": document.base_path,
            }
        )


class RouteDetail(ProjectScopedMixin, APIView):
    """Remove an imported template or a learned rule (a learned one stays listed as removed
    and is not learned again). Later records are routed without it. Admins only."""

    permission_classes = [ProjectRole]
    write_roles = ProjectRole.ADMINS

    @extend_schema(responses={204: None})
    def delete(self, request, slug, pk):
        rule = get_object_or_404(RouteRule.objects.filter(project=self.project), pk=pk)
        changes.remove_rule(self.project, rule)
        return Response(status=status.HTTP_204_NO_CONTENT)


class RouteTest(ProjectScopedMixin, APIView):
    """How the project's routing names a path (when the gateway gives no route)."""

    permission_classes = [ProjectRole]

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "path",
                {"type": "string", "maxLength": 8192, "pattern": "^/[^\\x00]*$"},
                required=True,
                description="A request path, e.g. /v1/orders/42.",
            )
        ],
        responses=RouteTestSerializer,
    )
    def get(self, request, slug):
        path = request.query_params.get("path", "")
        if not path.startswith("/") or len(path) > 8192 or "\x00" in path:
            raise ValidationError({"error": "path: a request path starting with '/'"})
        path = path.split("?", 1)[0]
        template, source = route_reads.route_of_path(self.project, path)
        return Response({"path": path, "template": template, "source": source})
