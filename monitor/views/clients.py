"""The client page: one client's requests, the conflicts it caused and suffered, and what it
did after them. Client ids are attacker text (any characters, slashes included), so they travel
in the query string (?c=…), never in the path."""

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import render

from monitor.access import project_for_user
from monitor.reads import charts, deploys
from monitor.reads.conflicts import offenders, retry_behaviour, rivals
from monitor.reads.requests import client_history
from monitor.views import cursors
from monitor.views.context import page_context, range_of

MAX_CLIENT = 1024
RIVALS_SHOWN = 10


@login_required
def client(request, slug):
    project = project_for_user(request.user, slug)
    name = request.GET.get("c", "")
    if not name or len(name) > MAX_CLIENT or "\x00" in name:
        raise Http404("no such client")
    rng = range_of(request, project)
    stats = next(iter(offenders(project, rng, client=name)), None)
    rows, next_cursor = client_history(
        project, name, rng, cursors.decode(request.GET.get("before"))
    )
    conflicts, _ = client_history(project, name, rng, conflicts=True)
    activity = charts.with_markers(
        charts.client_activity(project, rng, name), deploys=deploys.in_range(project, rng)
    )
    return render(
        request,
        "monitor/client.html",
        page_context(
            request,
            project,
            client=name,
            stats=stats,
            rows=rows,
            conflicts=conflicts,
            outcomes=retry_behaviour(project, rng, name),
            beat=rivals(project, rng, name, "winner"),
            lost_to=rivals(project, rng, name, "loser"),
            next_cursor=cursors.encode(next_cursor),
            paged=bool(request.GET.get("before")),
            empty=cursors.PAST_END
            if request.GET.get("before")
            else "No requests from this client in this range.",
            activity=activity,
        ),
    )
