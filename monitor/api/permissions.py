"""Project roles for API views: who may read and who may write in a project.

Roles (`Membership.role`, DESIGN.md "Members"): a `viewer` reads everything of the project; an
`admin` also writes (settings, sources, members, rules, incidents). Superusers are admins of
every project. The same rule for pages is `monitor.access.admin_writes`.

Use in a view whose URL carries the project slug as `slug`:

    class RuleList(ProjectScopedMixin, generics.ListCreateAPIView):
        permission_classes = [ProjectRole]
        # defaults: every member reads (VIEWERS), admins write (ADMINS)

A project the caller does not belong to answers 404 (it exists only for its members); a viewer
who tries to write answers 403.
"""

from rest_framework.permissions import SAFE_METHODS, BasePermission, IsAuthenticated

from monitor.access import project_for_user, role_in
from monitor.models import Membership, Project

Role = Membership.Role


class ProjectRole(BasePermission):
    """Authenticated, a member of the URL's project, and a role that allows the method."""

    VIEWERS = frozenset({Role.ADMIN, Role.VIEWER})
    ADMINS = frozenset({Role.ADMIN})
    message = "your role in this project does not allow this: only its admins change it"

    def has_permission(self, request, view) -> bool:
        if not IsAuthenticated().has_permission(request, view):
            return False
        project = project_of(view)  # 404 for a foreign project, before any role talk
        role = role_in(request.user, project)
        if request.method in SAFE_METHODS:
            allowed = getattr(view, "read_roles", self.VIEWERS)
        else:
            allowed = getattr(view, "write_roles", self.ADMINS)
        return role in allowed


def project_of(view) -> Project:
    """The project named by the view's `slug` URL argument, if the caller belongs to it (else
    404); looked up once per request."""
    project = getattr(view, "_project", None)
    if project is None:
        project = project_for_user(view.request.user, view.kwargs["slug"])
        view._project = project
    return project


class ProjectScopedMixin:
    """Gives a view `self.project`: the URL's project, checked by `project_of`."""

    @property
    def project(self) -> Project:
        return project_of(self)
