"""One door to a project: every page and API call gets its project through here."""

from django.http import Http404

from monitor.models import Membership, Project


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
    if user.is_superuser:
        return Membership.Role.ADMIN
    membership = Membership.objects.filter(user=user, project=project).first()
    return membership.role if membership else None
