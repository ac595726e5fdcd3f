"""The client page: one client's requests, the conflicts it caused and suffered, and what it
did after them. Client ids are attacker text (any characters, slashes included), so they travel
in the query string (?c=…), never in the path."""

from django.contrib.auth.decorators import login_required
from django.db.models import Sum
from django.http import Http404
from django.shortcuts import render

from monitor import conflict_queries
from monitor.access import project_for_user
from monitor.models import OutcomeRollup, RacePairRollup
from monitor.request_queries import client_history
from monitor.timerange import TimeRange
from monitor.views import cursors
from monitor.views.pages import _context, _range

MAX_CLIENT = 1024
RIVALS_SHOWN = 10


def retry_behaviour(project, rng: TimeRange, client: str) -> dict[str, dict[str, int]]:
    """{cause: {outcome: conflicts}} of this client's conflicts, from the outcome rollup."""
    start, end = rng.minute_bounds()
    result: dict[str, dict[str, int]] = {}
    for cause, outcome, n in (
        OutcomeRollup.objects.filter(
            project=project, client=client, minute__gte=start, minute__lt=end
        )
        .values_list("cause", "outcome")
        .annotate(n=Sum("n"))
        .values_list("cause", "outcome", "n")
    ):
        if n:
            per = result.setdefault(cause, {})
            per[outcome or "untracked"] = per.get(outcome or "untracked", 0) + n
    return result


def rivals(project, rng: TimeRange, client: str, side: str) -> list[tuple[str, int]]:
    """The clients this one beat (side="winner") or lost to (side="loser") in races, most first."""
    start, end = rng.minute_bounds()
    other = "loser" if side == "winner" else "winner"
    return [
        (name, n)
        for name, n in RacePairRollup.objects.filter(
            project=project, minute__gte=start, minute__lt=end, **{side: client}
        )
        .values_list(other)
        .annotate(n=Sum("n"))
        .order_by("-n", other)
        .values_list(other, "n")[:RIVALS_SHOWN]
        if n
    ]


@login_required
def client(request, slug):
    project = project_for_user(request.user, slug)
    name = request.GET.get("c", "")
    if not name or len(name) > MAX_CLIENT or "\x00" in name:
        raise Http404("no such client")
    _, rng = _range(request)
    stats = next(iter(conflict_queries.offenders(project, rng, client=name)), None)
    rows, next_cursor = client_history(
        project, name, rng, cursors.decode(request.GET.get("before"))
    )
    conflicts, _ = client_history(project, name, rng, conflicts=True)
    return render(
        request,
        "monitor/client.html",
        _context(
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
        ),
    )
