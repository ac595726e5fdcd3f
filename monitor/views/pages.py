"""Dashboard pages. Each view reads its project through monitor/access.py, asks
monitor/reads/, and renders a template; chart data goes out through json_script."""

from datetime import timedelta
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render

from monitor.access import is_admin, project_for_user, projects_for_user
from monitor.reads import charts, conflicts, deploys, remedies, totals
from monitor.reads.requests import (
    one_endpoint,
    one_request,
    past_retention,
    recent_incidents,
    recent_on_endpoint,
)
from monitor.reads.routes import endpoint_limit
from monitor.views.context import ISO, last_day, page_context, range_of
from monitor.views.curl import as_curl

ENDPOINT_SORTS = {
    "conflict_rate": lambda e: (-e["conflict_rate"], -e["conflicts"]),
    "conflicts": lambda e: (-e["conflicts"], -e["requests"]),
    "requests": lambda e: (-e["requests"],),
    "p95_ms": lambda e: (-(e["p95_ms"] or 0),),
    "route": lambda e: (e["route"], e["method"]),
}
TOP = 5
OFFENDERS_SHOWN = 10
HOTSPOTS_SHOWN = 10


def status_classes(by_status: dict[str, int]) -> dict[str, int]:
    classes = {"c1": 0, "c2": 0, "c3": 0, "c4": 0, "c5": 0}
    for status, n in by_status.items():
        classes[f"c{status[0]}"] += n
    return classes


@login_required
def project_list(request):
    projects = list(projects_for_user(request.user).order_by("name"))
    figures = totals.by_project(projects, last_day())
    for p in projects:
        p.figures = figures.get(p.id)
    return render(request, "monitor/project_list.html", {"projects": projects})


@login_required
def overview(request, slug):
    project = project_for_user(request.user, slug)
    rng = range_of(request, project)
    summary, endpoints = totals.compared(project, rng)
    sort = request.GET.get("sort", "conflict_rate")
    if sort not in ENDPOINT_SORTS:
        sort = "conflict_rate"
    endpoints.sort(key=ENDPOINT_SORTS[sort])
    for e in endpoints:
        e["classes"] = status_classes(e["by_status"])
    traffic, causes = charts.traffic_and_causes(project, rng)
    incidents = recent_incidents(project, rng)
    deploy_list = deploys.in_range(project, rng)
    charts.with_markers(traffic, incidents, deploy_list)
    charts.with_markers(causes, incidents, deploy_list)
    has_data = project.endpoints.exists()
    admin = is_admin(request.user, project)
    busy = [e for e in endpoints if e["requests"]]
    by_rate = sorted((e for e in busy if e["conflicts"]), key=ENDPOINT_SORTS["conflict_rate"])
    by_count = sorted((e for e in busy if e["conflicts"]), key=ENDPOINT_SORTS["conflicts"])
    return render(
        request,
        "monitor/overview.html",
        page_context(
            request,
            project,
            summary=summary,
            endpoints=endpoints,
            sort=sort,
            traffic=traffic,
            causes=causes,
            has_data=has_data,
            top_by_rate=by_rate[:TOP],
            top_by_count=by_count[:TOP],
            offenders=conflicts.offenders(project, rng)[:OFFENDERS_SHOWN] if has_data else [],
            hotspots=conflicts.hotspots(project, rng, limit=HOTSPOTS_SHOWN) if has_data else [],
            incidents=incidents,
            deploys=deploy_list,
            can_create_token=admin,
            is_admin=admin,
            limit=endpoint_limit(project, always_count=False) if has_data else None,
            ingest_url=request.build_absolute_uri("/ingest/v1/logs"),
        ),
    )


@login_required
def endpoint(request, slug, endpoint_id):
    project = project_for_user(request.user, slug)
    ep = one_endpoint(project, endpoint_id)
    if ep is None:
        raise Http404("no such endpoint")
    if ep.merged_into_id:
        # A routing change merged it: its counts and requests are on the new endpoint.
        return redirect("endpoint", slug=project.slug, endpoint_id=ep.merged_into_id)
    rng = range_of(request, project)
    f = totals.Filters(endpoint=ep.id)
    summary, rows = totals.compared(project, rng, f)
    stats = next(iter(rows), None)
    deploy_list = deploys.in_range(project, rng)
    traffic, timeline = charts.traffic_and_causes(project, rng, f)
    latency, heatmap = charts.latency_charts(project, rng, f)
    for chart in (traffic, timeline, latency):
        charts.with_markers(chart, deploys=deploy_list)
    # The chosen deploy (?deploy=id, default the latest in the range) against the hour before.
    chosen = next((d for d in deploy_list if str(d.id) == request.GET.get("deploy")), None)
    chosen = chosen or (deploy_list[-1] if deploy_list else None)
    by_status = sorted((stats or {}).get("by_status", {}).items())
    recent_conflicts = recent_on_endpoint(ep, rng, conflicts=True)
    recent = recent_on_endpoint(ep, rng)
    spots = conflicts.hotspots(project, rng, f, limit=HOTSPOTS_SHOWN)
    return render(
        request,
        "monitor/endpoint.html",
        page_context(
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
            heatmap=heatmap,
            by_status=by_status,
            offenders=conflicts.offenders(project, rng, f)[:OFFENDERS_SHOWN],
            hotspots=spots,
            remedies=remedies.remedies(project, rng, f, spots),
            deploys=deploy_list,
            deploy_comparison=deploys.comparison(project, chosen, f) if chosen else None,
        ),
    )


@login_required
def request_detail(request, slug, request_id):
    project = project_for_user(request.user, slug)
    row = one_request(project, request_id)
    if row is None:
        gone = past_retention(request_id)
        if gone:
            # Say so rather than a bare "not found": the row was pruned, its counts remain.
            return render(request, "404.html", {"message": gone}, status=404)
        raise Http404("no such request")
    story = conflicts.conflict_story(row)
    # The resource's history over the hour either side of this request, whatever the range.
    around = urlencode(
        {
            "from": (row.ts - timedelta(hours=1)).strftime(ISO),
            "to": (row.ts + timedelta(hours=1)).strftime(ISO),
            "r": row.resource,
        }
    )
    return render(
        request,
        "monitor/request_detail.html",
        page_context(
            request,
            project,
            req=row,
            endpoint=row.endpoint,
            story=story,
            curl=as_curl(row),
            resource_query=around,
        ),
    )
