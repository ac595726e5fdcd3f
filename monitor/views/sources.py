"""The sources page of a project: its ingest sources with their last hour (records accepted,
duplicates, rejected), when each was last seen and its latest problems, so that a person sees
at once whether a shipper works. Admins create sources, rotate and revoke their tokens; a new
token is shown once, in the answer that made it (never stored: only its SHA-256 is kept)."""

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from ingest import problems
from ingest.formats import FORMATS
from ingest.models import Source
from ingest.sources import (
    SourceError,
    create_source,
    revoke_source,
    rotate_source,
    source_name_error,
)
from monitor.access import admin_writes
from monitor.views.context import page_context


def _source(request, source_id: int) -> Source:
    source = Source.objects.filter(project=request.project, pk=source_id).first()
    if source is None:
        raise Http404("no such source")
    return source


def _page(request, *, token=None, token_source=None, error=None, status=200):
    project = request.project
    sources = list(Source.objects.filter(project=project).order_by("revoked_at", "name", "id"))
    activity = problems.last_hour(sources)
    rows = [(s, activity[s.pk]) for s in sources]
    return render(
        request,
        "monitor/sources.html",
        page_context(
            request,
            project,
            rows=rows,
            can_admin=request.can_admin,
            formats=sorted(FORMATS),
            token=token,
            token_source=token_source,
            error=error,
            ingest_url=request.build_absolute_uri("/ingest/v1/logs"),
            ranges=None,
        ),
        status=status,
    )


@never_cache
@admin_writes
def sources(request, slug):
    """GET: the sources. POST (admins): create one; the page shows its token once."""
    if request.method != "POST":
        return _page(request)
    name = request.POST.get("name", "").strip()
    fmt = request.POST.get("format", "").strip()
    error = source_name_error(name)
    if error is None and fmt and fmt not in FORMATS:
        error = f"format: unknown format {fmt[:40]!r}"
    if error is None and Source.objects.filter(project=request.project, name=name).exists():
        error = f"name: a source named {name!r} exists; rotate its token instead"
    if error is not None:
        return _page(request, error=error, status=400)
    try:
        source, token = create_source(request.project.slug, name, fmt)
    except SourceError as exc:
        return _page(request, error=str(exc), status=400)
    return _page(request, token=token, token_source=source)


@never_cache
@admin_writes
@require_POST
def rotate(request, slug, source_id):
    """A new token for the source (the old one stops working at once), shown once."""
    source = _source(request, source_id)
    token = rotate_source(source)
    return _page(request, token=token, token_source=source)


@admin_writes
@require_POST
def revoke(request, slug, source_id):
    source = _source(request, source_id)
    revoke_source(source)
    messages.success(request, f"The token of {source.name} is revoked; its data stays.")
    return redirect("sources", slug=request.project.slug)


@never_cache
@admin_writes
@require_POST
def new_source(request, slug):
    """The empty overview's one-field form: create a source and show its token once."""
    name = request.POST.get("name", "").strip() or "gateway"
    token, error = None, source_name_error(name)
    if error is None:
        try:
            _, token = create_source(request.project.slug, name)
        except SourceError as exc:
            error = str(exc)
    return render(
        request,
        "monitor/new_source.html",
        page_context(
            request,
            request.project,
            source_name=name,
            token=token,
            error=error,
            ingest_url=request.build_absolute_uri("/ingest/v1/logs"),
        ),
        status=400 if error else 200,
    )
