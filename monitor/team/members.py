"""Project members: add by username or e-mail, change a role, remove. A project keeps at least
one admin, so that somebody can still change it."""

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q

from monitor.models import Membership, Project

ROLES = tuple(Membership.Role.values)
MAX_IDENTIFIER = 254
LAST_ADMIN = "role: a project keeps at least one admin; make someone else admin first"


class MemberError(ValueError):
    """A change refused, with a message that starts with the field it is about."""


def check_role(role: object) -> str:
    if role not in ROLES:
        raise MemberError(f"role: must be one of {', '.join(ROLES)}, not {str(role)[:40]!r}")
    return role


def find_user(identifier: str):
    """The active user whose username is `identifier` (exactly) or whose e-mail it is (any case);
    None if there is none. An e-mail that two accounts share is ambiguous: None as well."""
    identifier = (identifier or "").strip()
    if not identifier or len(identifier) > MAX_IDENTIFIER or "\x00" in identifier:
        return None
    users = get_user_model().objects.filter(is_active=True)
    user = users.filter(username=identifier).first()
    if user is not None or "@" not in identifier:
        return user
    matches = list(users.filter(email__iexact=identifier)[:2])
    return matches[0] if len(matches) == 1 else None


def members_of(project: Project):
    """The project's memberships with their users, admins first, then by username."""
    return (
        Membership.objects.filter(project=project)
        .select_related("user")
        .order_by("role", "user__username")  # "admin" sorts before "viewer"
    )


def add_member(project: Project, user, role: str) -> tuple[Membership, bool]:
    """Make the user a member with this role; returns (membership, created). An existing
    member keeps their place and gets the role."""
    check_role(role)
    with transaction.atomic():
        membership, created = Membership.objects.select_for_update().get_or_create(
            project=project, user=user, defaults={"role": role}
        )
        if not created and membership.role != role:
            _change(membership, role)
    return membership, created


def change_role(membership: Membership, role: str) -> Membership:
    """Give a member another role; the last admin cannot become a viewer."""
    check_role(role)
    with transaction.atomic():
        _change(membership, role)
    return membership


def remove_member(membership: Membership) -> None:
    """Take a member out of the project; the last admin cannot be removed."""
    with transaction.atomic():
        _lock_admins(membership.project_id)
        if membership.role == Membership.Role.ADMIN and _other_admins(membership) == 0:
            raise MemberError(LAST_ADMIN)
        membership.delete()


def _change(membership: Membership, role: str) -> None:
    _lock_admins(membership.project_id)
    if (
        membership.role == Membership.Role.ADMIN
        and role != Membership.Role.ADMIN
        and _other_admins(membership) == 0
    ):
        raise MemberError(LAST_ADMIN)
    membership.role = role
    membership.save(update_fields=["role"])


def _lock_admins(project_id: int) -> None:
    # Two admins demoting each other at once must not leave the project without one: both
    # changes take the same lock on the project's admin rows (a no-op on SQLite, whose writes
    # are serialized anyway).
    list(
        Membership.objects.select_for_update()
        .filter(project_id=project_id, role=Membership.Role.ADMIN)
        .values_list("id", flat=True)
    )


def _other_admins(membership: Membership) -> int:
    return (
        Membership.objects.filter(project_id=membership.project_id, role=Membership.Role.ADMIN)
        .filter(~Q(pk=membership.pk))
        .count()
    )
