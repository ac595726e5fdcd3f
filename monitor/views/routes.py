"""The routes page: every template of the project with its source (declared, imported,
learned, gateway, derived), learned rules with their evidence, a path tester, and for admins
the forms that declare a pattern, import an OpenAPI document and remove a rule."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from ingest.routes import SOURCES
from monitor import project_settings
from monitor.access import project_for_user, role_in
from monitor.models import Membership, RouteRule
from monitor.reads import routes as route_reads
from monitor.routing import changes
from monitor.routing.openapi import MAX_DOCUMENT_BYTES, DocumentError, read_document
from monitor.tasks import after_routing_change
from monitor.views.context import page_context
from monitor.views.project_settings import admin_project

SHOWN = 300  # rows of one page; filter by source for the rest
MAX_PATH = 8192


@never_cache
@login_required
def routes_page(request, slug):
    project = project_for_user(request.user, slug)
    source = request.GET.get("source") or None
    if source not in (None, *SOURCES):
        source = None
    everything = route_reads.routes(project, source)
    tested = None
    path = request.GET.get("path", "").strip()[:MAX_PATH]
    if path:
        if path.startswith("/") and "\x00" not in path:
            tested = (path, *route_reads.route_of_path(project, path.split("?", 1)[0]))
        else:
            messages.error(request, "path: a request path starts with '/'")
    counts = {s: 0 for s in SOURCES}
    for entry in route_reads.routes(project) if source else everything:
        counts[entry["source"]] += 1
    return render(
        request,
        "monitor/routes.html",
        page_context(
            request,
            project,
            routes=everything[:SHOWN],
            more=max(len(everything) - SHOWN, 0),
            source=source,
            counts=list(counts.items()),
            tested=tested,
            limit=route_reads.endpoint_limit(project),
            is_admin=role_in(request.user, project) == Membership.Role.ADMIN,
            ranges=[],  # no time range on this page
        ),
    )


@login_required
@require_POST
def import_openapi(request, slug):
    project = admin_project(request, slug)
    upload = request.FILES.get("document")
    data = upload.read(MAX_DOCUMENT_BYTES + 1) if upload else request.POST.get("text", "").encode()
    base_path = request.POST.get("base_path", "").strip() or None
    try:
        document = read_document(data, base_path)
    except DocumentError as exc:
        messages.error(request, str(exc))
        return redirect("routes", slug=project.slug)
    added = changes.import_document(project, document)
    after_routing_change(project)
    skipped = f"; {len(document.skipped)} paths skipped" if document.skipped else ""
    messages.success(
        request,
        f"Imported {len(document.routes)} templates of “{document.title or 'the document'}” "
        f"({document.spec}, prefixed with {document.base_path}): {len(added)} new{skipped}.",
    )
    return redirect("routes", slug=project.slug)


@login_required
@require_POST
def declare(request, slug):
    project = admin_project(request, slug)
    template = request.POST.get("template", "").strip()
    try:
        project_settings.update(project, {"route_patterns": [*project.route_patterns, template]})
    except project_settings.SettingsError as exc:
        messages.error(request, str(exc).replace(f"[{len(project.route_patterns)}]", ""))
    else:
        messages.success(request, f"Declared {template}.")
    return redirect("routes", slug=project.slug)


@login_required
@require_POST
def undeclare(request, slug):
    project = admin_project(request, slug)
    template = request.POST.get("template", "")
    kept = [t for t in project.route_patterns if t != template]
    project_settings.update(project, {"route_patterns": kept})
    messages.success(request, f"Removed the declared pattern {template[:200]}.")
    return redirect("routes", slug=project.slug)


@login_required
@require_POST
def remove_rule(request, slug, rule_id):
    project = admin_project(request, slug)
    rule = get_object_or_404(RouteRule.objects.filter(project=project), pk=rule_id)
    changes.remove_rule(project, rule)
    messages.success(
        request,
        f"Removed {rule.template}: later records are routed without it"
        + (" and it will not be learned again." if rule.source == "learned" else "."),
    )
    return redirect("routes", slug=project.slug)
