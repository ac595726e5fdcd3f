"""The resource page: one resource's history in time order, who wrote and who lost."""

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import render

from monitor.access import project_for_user
from monitor.reads.charts import resource_conflicts
from monitor.reads.requests import resource_history
from monitor.rules.causes import is_successful_write
from monitor.views import cursors
from monitor.views.context import page_context, range_of

MAX_RESOURCE = 8192


@login_required
def resource(request, slug):
    project = project_for_user(request.user, slug)
    key = request.GET.get("r", "")
    if not key or len(key) > MAX_RESOURCE or "\x00" in key:
        raise Http404("no such resource")
    rng = range_of(request, project)
    rows, next_cursor = resource_history(
        project, key, rng, cursors.decode(request.GET.get("before"))
    )
    writers = sorted({r.client or "–" for r in rows if is_successful_write(r.method, r.status)})
    losers = sorted({r.client or "–" for r in rows if r.cause})
    return render(
        request,
        "monitor/resource.html",
        page_context(
            request,
            project,
            resource=key,
            timeline=resource_conflicts(project, rng, key),
            rows=rows,
            writers=writers,
            losers=losers,
            next_cursor=cursors.encode(next_cursor),
            paged=bool(request.GET.get("before")),
            past_end=cursors.PAST_END,
        ),
    )
