"""One door to a project: every page and API call gets its project through here.

A project answers 404 to whoever does not belong to it (missing and foreign alike). Members
read; only admins write (DESIGN.md "Members"): `admin_writes` applies that rule to a page view,
`monitor/api/permissions.py: ProjectRole` to an API view.
"""

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404

from monitor.models import Membership, Project

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
VIEWER_WRITE = "only this project's admins can change it; ask one of them to make you admin"


def projects_for_user(user):
    """The projects a user may see: all for superusers, else those they are a member of."""
    if not user.is_authenticated:
        return Project.objects.none()
    if user.is_superuser:
        return Project.objects.all()
    return Project.objects.filter(membership__user=user).distinct()


def project_for_user(user, slug: str) -> Project:
    """The project with this slug if the user belongs to it; 404 for missing and foreign alike."""
    project = projects_for_user(user).filter(slug=slug).first()
    if project is None:
        raise Http404("no such project")
    return project


def role_in(user, project: Project) -> str | None:
    """The user's role in the project (superusers are admins everywhere), None for outsiders."""
    if user.is_superuser:
        return Membership.Role.ADMIN
    membership = Membership.objects.filter(user=user, project=project).first()
    return membership.role if membership else None


def is_admin(user, project: Project) -> bool:
    return role_in(user, project) == Membership.Role.ADMIN


def project_for_admin(user, slug: str) -> Project:
    """The project if the user is one of its admins: 404 for outsiders, 403 for a viewer."""
    project = project_for_user(user, slug)
    if not is_admin(user, project):
        raise PermissionDenied(VIEWER_WRITE)
    return project


def admin_writes(view: Callable) -> Callable:
    """For a page view taking `slug`: sign-in required, 404 for outsiders, 403 for a viewer's
    POST (any method but GET, HEAD, OPTIONS). The view finds the project on `request.project`
    and whether the user may change it on `request.can_admin`."""

    @wraps(view)
    @login_required
    def checked(request, slug, *args, **kwargs):
        project = project_for_user(request.user, slug)
        request.project = project
        request.can_admin = is_admin(request.user, project)
        if request.method not in SAFE_METHODS and not request.can_admin:
            raise PermissionDenied(VIEWER_WRITE)
        return view(request, slug, *args, **kwargs)

    return checked
