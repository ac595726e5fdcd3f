"""The live tail: a project's newest requests as they are stored, filtered like the explorer,
conflicts highlighted. The page polls a fragment of new rows every two seconds
(static/monitor/js/tail.js) rather than holding a connection open: a server-sent stream would
hold a synchronous gunicorn worker for as long as the page is open.

A poll asks for the rows of the batches stored after its cursor (monitor/reads/requests.py:
tail_since); the cursor moves only past batches that have surely committed, so a batch that
commits late still shows, and the page skips rows it already shows."""

from datetime import UTC, datetime
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.http import HttpResponseBadRequest
from django.shortcuts import render
from django.views.decorators.cache import never_cache

from monitor.access import project_for_user
from monitor.api.filters import YES, RequestFilter
from monitor.api.params import MAX_ID
from monitor.reads.requests import project_requests, tail_since, tail_start
from monitor.views.context import page_context
from monitor.views.explorer import chosen_filters, filter_choices, filter_errors

POLL_SECONDS = 2


@login_required
def tail(request, slug):
    project = project_for_user(request.user, slug)
    chosen = chosen_filters(request)
    fs = RequestFilter(chosen, queryset=project_requests(project))
    rows, cursor, errors = [], 0, []
    if fs.is_valid():
        rows, cursor = tail_start(fs.qs, datetime.now(UTC))
    else:
        errors = filter_errors(fs)
    return render(
        request,
        "monitor/tail.html",
        page_context(
            request,
            project,
            chosen=chosen,
            conflicts_only=chosen.get("conflicts", "").lower() in YES,
            rows=rows,
            cursor=cursor,
            errors=errors,
            poll_seconds=POLL_SECONDS,
            # No time range here: the tail follows what arrives; its link is its filters.
            ranges=None,
            share_query=urlencode(list(chosen.items())),
            **filter_choices(project),
        ),
    )


@never_cache
@login_required
def tail_rows(request, slug):
    """The rows stored since ?cursor= (a batch id), as table rows for the page to prepend."""
    project = project_for_user(request.user, slug)
    raw = request.GET.get("cursor", "")
    if not raw.isdigit() or int(raw) > MAX_ID:
        return HttpResponseBadRequest(
            "cursor: expected a batch id from the tail page", content_type="text/plain"
        )
    fs = RequestFilter(chosen_filters(request), queryset=project_requests(project))
    if not fs.is_valid():
        return HttpResponseBadRequest("; ".join(filter_errors(fs)), content_type="text/plain")
    rows, cursor, more = tail_since(fs.qs, int(raw), datetime.now(UTC))
    return render(
        request,
        "monitor/includes/tail_rows.html",
        {"project": project, "rows": rows, "cursor": cursor, "more": more},
    )
