"""The request explorer: the project's raw requests filtered by status (a code or a class such
as 4xx), method, endpoint, client, path prefix, cause, conflicts only and time, newest first
with keyset cursors both ways, and how many requests the filters match. The form is a GET, so
the URL is the shareable view, and the CSV link carries the same filters to the API export.

Filters are validated by the API's FilterSet (monitor/api/filters.py): the same names, the same
bounds, and a bad value shows its message above the table instead of an error page."""

from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.urls import reverse

from ingest import sampling
from monitor.access import project_for_user
from monitor.api.filters import YES, RequestFilter
from monitor.reads.requests import count_matching, in_range, page
from monitor.rules.causes import CAUSES
from monitor.views import cursors
from monitor.views.context import page_context, range_of

FILTERS = ("status", "method", "endpoint", "client", "path", "cause", "conflicts")
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def chosen_filters(request) -> dict[str, str]:
    """The explorer's filters present in the URL (the live tail takes the same)."""
    return {k: request.GET[k] for k in FILTERS if request.GET.get(k)}


def filter_errors(fs) -> list[str]:
    return [f"{name}: {' '.join(str(m) for m in msgs)}" for name, msgs in fs.errors.items()]


def filter_choices(project) -> dict:
    """What the filter form offers: the project's endpoints, the causes and the methods."""
    return {
        "endpoints": list(
            project.endpoints.order_by("route", "method").values("id", "method", "route")
        ),
        "causes": CAUSES,
        "methods": METHODS,
    }


def empty_message(project, chosen: dict, paged: bool, total) -> str:
    """Why the list is empty, said once: no data at all yet, the filters, or a page past the
    end of the list (a cursor beyond the oldest or newest request)."""
    if paged and total and total.n:
        return cursors.PAST_END
    if not project.endpoints.exists():
        return "No data yet: create a source and ship your gateway's logs to it (Sources)."
    if chosen:
        return "No request matches these filters in this time range."
    return "No requests in this time range."


@login_required
def explorer(request, slug):
    project = project_for_user(request.user, slug)
    rng = range_of(request, project)
    chosen = chosen_filters(request)
    fs = RequestFilter(chosen, queryset=in_range(project, rng))
    conflicts_only = chosen.get("conflicts", "").lower() in YES
    rows, older, newer, errors, total = [], None, None, [], None
    if fs.is_valid():
        rows, older, newer = page(
            fs.qs,
            before=cursors.decode(request.GET.get("before")),
            after=cursors.decode(request.GET.get("after")),
        )
        total = count_matching(project, rng, chosen, fs.qs, conflicts_only=conflicts_only)
    else:
        errors = filter_errors(fs)
    window = {
        "from": rng.start.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "to": rng.end.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
    }
    paged = bool(request.GET.get("before") or request.GET.get("after"))
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
            conflicts_only=conflicts_only,
            raw_from=request.GET.get("from", ""),
            raw_to=request.GET.get("to", ""),
            filter_query=urlencode(chosen),
            rows=rows,
            errors=errors,
            total=total,
            paged=paged,
            empty=empty_message(project, chosen, paged, total) if not rows else "",
            next_cursor=cursors.encode(older),
            newer_cursor=cursors.encode(newer),
            csv_url=csv_url,
            sample_rate=sampling.rate(),
            **filter_choices(project),
        ),
    )
