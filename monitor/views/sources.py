"""Creating an ingest token from the empty overview (project admins only): a POST form with
CSRF; the token is shown once on the response and never again (only its hash is stored)."""

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from ingest.sources import SourceError, create_source
from monitor.access import project_for_user, role_in
from monitor.models import Membership
from monitor.views.context import page_context

MAX_NAME = 100


@never_cache
@login_required
@require_POST
def new_source(request, slug):
    project = project_for_user(request.user, slug)
    if role_in(request.user, project) != Membership.Role.ADMIN:
        raise PermissionDenied("only project admins create ingest tokens")
    name = request.POST.get("name", "").strip() or "gateway"
    token, error = None, None
    if len(name) > MAX_NAME or "\x00" in name:
        error = f"name: at most {MAX_NAME} characters"
    else:
        try:
            _, token = create_source(project.slug, name)
        except SourceError as exc:
            error = str(exc)
    return render(
        request,
        "monitor/new_source.html",
        page_context(
            request,
            project,
            source_name=name,
            token=token,
            error=error,
            ingest_url=request.build_absolute_uri("/ingest/v1/logs"),
        ),
        status=400 if error else 200,
    )
