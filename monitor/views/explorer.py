"""The request explorer: the project's raw requests filtered by status, method, endpoint,
client, path prefix, cause and time, newest first with a keyset cursor. The form is a GET, so
the URL is the shareable view, and the CSV link carries the same filters to the API export.

Filters are validated by the API's FilterSet (monitor/api/filters.py): the same names, the same
bounds, and a bad value shows its message above the table instead of an error page."""

from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.urls import reverse

from monitor.access import project_for_user
from monitor.api.filters import RequestFilter
from monitor.reads.requests import in_range, newest_first
from monitor.rules.causes import CAUSES
from monitor.views import cursors
from monitor.views.context import page_context, range_of

FILTERS = ("status", "method", "endpoint", "client", "path", "cause")
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


@login_required
def explorer(request, slug):
    project = project_for_user(request.user, slug)
    rng = range_of(request)
    chosen = {k: request.GET[k] for k in FILTERS if request.GET.get(k)}
    fs = RequestFilter(chosen, queryset=in_range(project, rng))
    rows, next_cursor, errors = [], None, []
    if fs.is_valid():
        rows, next_cursor = newest_first(fs.qs, cursors.decode(request.GET.get("before")))
    else:
        errors = [f"{name}: {' '.join(str(m) for m in msgs)}" for name, msgs in fs.errors.items()]
    window = {
        "from": rng.start.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "to": rng.end.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
    }
    csv_url = (
        reverse("api-export-requests", args=[project.slug]) + "?" + urlencode({**chosen, **window})
    )
    return render(
        request,
        "monitor/explorer.html",
        page_context(
            request,
            project,
            chosen=chosen,
            raw_from=request.GET.get("from", ""),
            raw_to=request.GET.get("to", ""),
            filter_query=urlencode(chosen),
            rows=rows,
            errors=errors,
            next_cursor=cursors.encode(next_cursor),
            csv_url=csv_url,
            endpoints=list(
                project.endpoints.order_by("route", "method").values("id", "method", "route")
            ),
            causes=CAUSES,
            methods=METHODS,
        ),
    )
