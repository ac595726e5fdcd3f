"""Changes to a project's routes: an imported OpenAPI document, a removed rule. Each bumps the
project's routes version, so that every ingest process rebuilds its route table."""

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from ingest.routes import LEARNED, OPENAPI
from monitor.models import Project, RouteRule
from monitor.routing.openapi import Document


def import_document(project: Project, document: Document) -> list[str]:
    """Store the document's templates as the project's imported routes; returns those that
    were new. A template removed earlier comes back."""
    existing = set(
        RouteRule.objects.filter(
            project=project, source=OPENAPI, removed_at__isnull=True
        ).values_list("template", flat=True)
    )
    added = [r.template for r in document.routes if r.template not in existing]
    with transaction.atomic():
        RouteRule.objects.filter(
            project=project, source=OPENAPI, template__in=[r.template for r in document.routes]
        ).delete()
        RouteRule.objects.bulk_create(
            [
                RouteRule(
                    project=project,
                    source=OPENAPI,
                    template=r.template,
                    methods=r.methods,
                    evidence={"document": document.title, "spec": document.spec},
                )
                for r in document.routes
            ]
        )
        bump_routes_version(project)
    return added


def remove_rule(project: Project, rule: RouteRule) -> None:
    """Remove an imported template, or a learned rule (kept as removed, so that learning
    does not make it again). Later records are routed without it; merged counts stay merged."""
    with transaction.atomic():
        if rule.source == LEARNED:
            rule.removed_at = rule.removed_at or timezone.now()
            rule.save(update_fields=["removed_at"])
        else:
            rule.delete()
        bump_routes_version(project)


def bump_routes_version(project: Project) -> None:
    """Tell every ingest process that the project's routing changed."""
    Project.objects.filter(pk=project.pk).update(routes_version=F("routes_version") + 1)
    project.refresh_from_db(fields=["routes_version"])
