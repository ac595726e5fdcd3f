"""The project settings page (admins only): every setting of DESIGN.md "Project settings" in
one form, checked by monitor/project_settings.py like the API, each error shown beside its
field."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache

from monitor import project_settings
from monitor.access import project_for_user, role_in
from monitor.models import Membership
from monitor.rules.causes import PHRASE_CAUSES
from monitor.views.context import page_context

LISTS = ("version_params", "version_headers", "extra_headers", "secret_headers")
NUMBERS = {"race_window_s": float, "max_endpoints": int, "route_learning_threshold": int}


def admin_project(request, slug):
    """The project, if the user is one of its admins (403 for other members, 404 else)."""
    project = project_for_user(request.user, slug)
    if role_in(request.user, project) != Membership.Role.ADMIN:
        raise PermissionDenied("only project admins change its settings")
    return project


def _from_form(post) -> tuple[dict, dict]:
    """The settings a form posted, in the API's shapes; and errors of numbers not numbers."""
    data, errors = {"name": post.get("name", "")}, {}
    for name, kind in NUMBERS.items():
        raw = post.get(name, "").strip()
        try:
            data[name] = kind(raw)
        except ValueError:
            errors[name] = (
                f"{name}: {raw[:40]!r} is not {'an integer' if kind is int else 'a number'}"
            )
    for name in LISTS:
        data[name] = [v for v in post.get(name, "").replace(",", " ").split() if v]
    data["route_patterns"] = [
        line.strip() for line in post.get("route_patterns", "").splitlines() if line.strip()
    ]
    data["conflict_phrases"] = {
        cause: lines
        for cause in PHRASE_CAUSES
        if (
            lines := [p.strip() for p in post.get(f"phrases_{cause}", "").splitlines() if p.strip()]
        )
    }
    return data, errors


def _to_form(settings: dict) -> dict:
    values = dict(settings)
    for name in LISTS:
        values[name] = ", ".join(settings[name])
    values["route_patterns"] = "\n".join(settings["route_patterns"])
    values["phrases"] = [
        (cause, "\n".join(settings["conflict_phrases"].get(cause, ()))) for cause in PHRASE_CAUSES
    ]
    return values


@never_cache
@login_required
def settings_page(request, slug):
    project = admin_project(request, slug)
    errors: dict[str, str] = {}
    values = _to_form(project_settings.read(project))
    if request.method == "POST":
        data, errors = _from_form(request.POST)
        if not errors:
            try:
                project_settings.update(project, data)
            except project_settings.SettingsError as exc:
                errors[exc.field.split("[")[0].split(".")[0]] = str(exc)
        if not errors:
            messages.success(request, "Settings saved.")
            return redirect("project-settings", slug=project.slug)
        values = _to_form({**project_settings.read(project), **_shown(request.POST)})
    return render(
        request,
        "monitor/project_settings.html",
        page_context(request, project, values=values, errors=errors, ranges=[]),
    )


def _shown(post) -> dict:
    """What the user typed, to show again beside the errors."""
    data = {name: post.get(name, "") for name in ("name", *NUMBERS)}
    for name in LISTS:
        data[name] = post.get(name, "").replace(",", " ").split()
    data["route_patterns"] = post.get("route_patterns", "").splitlines()
    data["conflict_phrases"] = {c: post.get(f"phrases_{c}", "").splitlines() for c in PHRASE_CAUSES}
    return data
