"""New projects from the UI: the person who creates one is its first admin."""

from django.db import IntegrityError, transaction
from django.utils.text import slugify

from monitor.models import Membership, Project
from monitor.team.members import MemberError

MAX_NAME = 200
MAX_SLUG = 64


def create_project(user, name: str, slug: str = "") -> Project:
    """Create a project named `name` (slug from the name unless given) with `user` as admin.
    Raises MemberError naming the field for an empty or taken name or slug."""
    name = (name or "").strip()
    if not name or len(name) > MAX_NAME or "\x00" in name:
        raise MemberError(f"name: a name of 1 to {MAX_NAME} characters is required")
    slug = slugify((slug or "").strip() or name)[:MAX_SLUG].strip("-")
    if not slug:
        raise MemberError("slug: letters, digits, hyphens or underscores are required")
    try:
        with transaction.atomic():
            project = Project.objects.create(slug=slug, name=name)
            Membership.objects.create(project=project, user=user, role=Membership.Role.ADMIN)
    except IntegrityError:
        raise MemberError(f"slug: a project {slug!r} exists already; choose another") from None
    return project
