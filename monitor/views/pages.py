"""Dashboard pages. Each view reads its project through monitor/access.py, asks
monitor/queries.py, and renders a template; chart data goes out through json_script."""

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponseNotFound
from django.shortcuts import render
from django.utils.html import format_html

from ingest.models import Request
from monitor import charts, conflict_queries, queries, remedies, retention
from monitor.access import project_for_user, projects_for_user, role_in
from monitor.conflicts import CAUSES, CONFLICT_STATUSES
from monitor.models import Endpoint, Membership
from monitor.request_queries import recent_incidents
from monitor.timerange import TimeRange
from monitor.views.curl import as_curl
from monitor.views.ranges import PRESETS, page_range

STATUS_CLASSES = ["2xx", "3xx", "4xx", "5xx", "1xx", "conflicts"]
ENDPOINT_SORTS = {
    "conflict_rate": lambda e: (-e["conflict_rate"], -e["conflicts"]),
    "conflicts": lambda e: (-e["conflicts"], -e["requests"]),
    "requests": lambda e: (-e["requests"],),
    "p95_ms": lambda e: (-(e["p95_ms"] or 0),),
    "route": lambda e: (e["route"], e["method"]),
}
RECENT_LIMIT = 20
TOP = 5
OFFENDERS_SHOWN = 10
HOTSPOTS_SHOWN = 10


def status_classes(by_status: dict[str, int]) -> dict[str, int]:
    classes = {"c1": 0, "c2": 0, "c3": 0, "c4": 0, "c5": 0}
    for status, n in by_status.items():
        classes[f"c{status[0]}"] += n
    return classes


def _range(request) -> tuple[str, TimeRange]:
    pr = page_range(request.GET)
    return pr.key, pr.rng


def _context(request, project, **extra) -> dict:
    pr = page_range(request.GET)
    return {
        "project": project,
        "projects": projects_for_user(request.user).only("slug", "name"),
        "range_key": pr.key,
        "range_query": pr.query,
        "range_label": pr.label,
        "range_error": pr.error,
        "range_from": pr.rng.start.strftime("%Y-%m-%dT%H:%M"),
        "range_to": pr.rng.end.strftime("%Y-%m-%dT%H:%M"),
        "ranges": list(PRESETS),
        **extra,
    }


@login_required
def project_list(request):
    projects = projects_for_user(request.user).order_by("name")
    return render(request, "monitor/project_list.html", {"projects": projects})


@login_required
def overview(request, slug):
    project = project_for_user(request.user, slug)
    _, rng = _range(request)
    summary = queries.summary(project, rng)
    endpoints = queries.endpoints(project, rng)
    sort = request.GET.get("sort", "conflict_rate")
    if sort not in ENDPOINT_SORTS:
        sort = "conflict_rate"
    endpoints.sort(key=ENDPOINT_SORTS[sort])
    for e in endpoints:
        e["classes"] = status_classes(e["by_status"])
    chart = charts.bucketize(queries.requests_per_minute(project, rng), rng, STATUS_CLASSES)
    incidents = recent_incidents(project, rng)
    charts.with_markers(chart, incidents)
    has_data = project.endpoints.exists()
    busy = [e for e in endpoints if e["requests"]]
    by_rate = sorted((e for e in busy if e["conflicts"]), key=ENDPOINT_SORTS["conflict_rate"])
    by_count = sorted((e for e in busy if e["conflicts"]), key=ENDPOINT_SORTS["conflicts"])
    return render(
        request,
        "monitor/overview.html",
        _context(
            request,
            project,
            summary=summary,
            endpoints=endpoints,
            sort=sort,
            chart=chart,
            has_data=has_data,
            top_by_rate=by_rate[:TOP],
            top_by_count=by_count[:TOP],
            offenders=conflict_queries.offenders(project, rng)[:OFFENDERS_SHOWN]
            if has_data
            else [],
            hotspots=conflict_queries.hotspots(project, rng, limit=HOTSPOTS_SHOWN)
            if has_data
            else [],
            incidents=incidents,
            can_create_token=role_in(request.user, project) == Membership.Role.ADMIN,
            ingest_url=request.build_absolute_uri("/ingest/v1/logs"),
        ),
    )


@login_required
def endpoint(request, slug, endpoint_id):
    project = project_for_user(request.user, slug)
    ep = Endpoint.objects.filter(project=project, id=endpoint_id).first()
    if ep is None:
        raise Http404("no such endpoint")
    _, rng = _range(request)
    f = queries.Filters(endpoint=ep.id)
    summary = queries.summary(project, rng, f)
    stats = next(iter(queries.endpoints(project, rng, f)), None)
    timeline = charts.bucketize(
        queries.conflicts_per_minute_by_cause(project, rng, f), rng, list(CAUSES)
    )
    traffic = charts.bucketize(queries.requests_per_minute(project, rng, f), rng, STATUS_CLASSES)
    latency = charts.latency(queries.latency_parts(project, rng, f, queries.chart_grain(rng)), rng)
    by_status = sorted((stats or {}).get("by_status", {}).items())
    recent_conflicts = list(
        Request.objects.filter(
            endpoint=ep, ts__gte=rng.start, ts__lt=rng.end, status__in=CONFLICT_STATUSES
        ).order_by("-ts", "-id")[:RECENT_LIMIT]
    )
    recent = list(
        Request.objects.filter(endpoint=ep, ts__gte=rng.start, ts__lt=rng.end).order_by(
            "-ts", "-id"
        )[:RECENT_LIMIT]
    )
    return render(
        request,
        "monitor/endpoint.html",
        _context(
            request,
            project,
            endpoint=ep,
            summary=summary,
            stats=stats,
            timeline=timeline,
            traffic=traffic,
            recent_conflicts=recent_conflicts,
            recent=recent,
            latency=latency,
            by_status=by_status,
            offenders=conflict_queries.offenders(project, rng, f)[:OFFENDERS_SHOWN],
            hotspots=conflict_queries.hotspots(project, rng, f, limit=HOTSPOTS_SHOWN),
            remedies=remedies.remedies(project, rng, f),
        ),
    )


@login_required
def request_detail(request, slug, request_id):
    project = project_for_user(request.user, slug)
    row = (
        Request.objects.filter(project=project, id=request_id)
        .select_related("endpoint", "race_winner")
        .first()
    )
    if row is None:
        gone = retention.past_retention(request_id)
        if gone:
            # Say so rather than a bare "not found": the row was pruned, its counts remain.
            return HttpResponseNotFound(format_html("<h1>Past retention</h1><p>{}</p>", gone))
        raise Http404("no such request")
    story = conflict_queries.conflict_story(row)
    return render(
        request,
        "monitor/request_detail.html",
        _context(request, project, req=row, endpoint=row.endpoint, story=story, curl=as_curl(row)),
    )
