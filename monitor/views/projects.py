"""A new project from the UI: its creator becomes its first admin, then adds a source."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render

from monitor.team.members import MemberError
from monitor.team.projects import create_project


@login_required
def new_project(request):
    error = None
    if request.method == "POST":
        try:
            project = create_project(
                request.user, request.POST.get("name", ""), request.POST.get("slug", "")
            )
        except MemberError as exc:
            error = str(exc)
        else:
            return redirect("sources", slug=project.slug)
    return render(
        request,
        "monitor/new_project.html",
        {
            "error": error,
            "name": request.POST.get("name", ""),
            "slug": request.POST.get("slug", ""),
        },
        status=400 if error else 200,
    )
