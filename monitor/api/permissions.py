"""Project roles for API views: who may read and who may write in a project.

Roles (`Membership.role`): `readonly` reads, `member` reads and writes (rules, for instance),
`admin` also manages the project's sources. Superusers are admins of every project.

Use in a view whose URL carries the project slug as `slug`:

    class RuleList(ProjectScopedMixin, generics.ListCreateAPIView):
        permission_classes = [ProjectRole]
        write_roles = ProjectRole.WRITERS      # the default; ADMINS for admin-only writes
        read_roles = ProjectRole.READERS       # the default; ADMINS for admin-only reads

A project the caller does not belong to answers 404 (it exists only for its members); a member
whose role is too low answers 403.
"""

from rest_framework.permissions import SAFE_METHODS, BasePermission, IsAuthenticated

from monitor.access import project_for_user, role_in
from monitor.models import Membership, Project

Role = Membership.Role


class ProjectRole(BasePermission):
    """Authenticated, a member of the URL's project, and a role that allows the method."""

    READERS = frozenset({Role.ADMIN, Role.MEMBER, Role.READONLY})
    WRITERS = frozenset({Role.ADMIN, Role.MEMBER})
    ADMINS = frozenset({Role.ADMIN})
    message = "your role in this project does not allow this"

    def has_permission(self, request, view) -> bool:
        if not IsAuthenticated().has_permission(request, view):
            return False
        project = project_of(view)  # 404 for a foreign project, before any role talk
        role = role_in(request.user, project)
        if request.method in SAFE_METHODS:
            allowed = getattr(view, "read_roles", self.READERS)
        else:
            allowed = getattr(view, "write_roles", self.WRITERS)
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
