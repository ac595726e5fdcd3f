"""Creating projects and their ingest sources."""

from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from ingest.formats import FORMATS, unknown_format_error
from ingest.models import Source
from monitor.models import Project


class SourceError(ValueError):
    pass


def slug_for(text: str) -> str:
    """The slug of a project named on a command line (`Shop API` -> `shop-api`); SourceError
    when nothing usable is left or it is longer than a slug may be."""
    slug = slugify(text)
    if not slug:
        raise SourceError(f"not a usable project slug: {text!r}")
    limit = Project._meta.get_field("slug").max_length
    if len(slug) > limit:
        raise SourceError(f"project slug: {len(slug)} characters, at most {limit}")
    return slug


def source_name_error(name: str) -> str | None:
    """Why a source name (already stripped) is unusable, or None."""
    if not name:
        return "source name: empty; name it after the gateway, e.g. kong-prod"
    limit = Source._meta.get_field("name").max_length
    if len(name) > limit:
        return f"source name: {len(name)} characters, at most {limit}"
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        return "source name: control characters are not allowed"
    return None


@transaction.atomic
def create_source(project_slug: str, name: str, fmt: str = "", *, rotate: bool = False):
    """Create the project if needed and a source in it; returns (source, token in clear).

    With rotate=True an existing source of that name gets a new token (the old one stops
    working); without it an existing name is an error.
    """
    if fmt and fmt not in FORMATS:
        raise SourceError(unknown_format_error(fmt))
    name = name.strip()
    error = source_name_error(name)
    if error:
        raise SourceError(error)
    project, _ = Project.objects.get_or_create(slug=project_slug, defaults={"name": project_slug})
    source = Source.objects.filter(project=project, name=name).first()
    if source is not None and not rotate:
        raise SourceError(
            f"source {name!r} already exists in project {project_slug!r}; "
            "pass --rotate to give it a new token"
        )
    if source is None:
        source = Source(project=project, name=name)
    if fmt:
        source.format = fmt
    source.revoked_at = None
    token = source.issue_token()
    source.save()
    return source, token


def rotate_source(source: Source) -> str:
    """Give a source a new token (the old one stops working at once) and return it in clear.
    A revoked source comes back to life with the new token, as `createsource --rotate` does."""
    token = source.issue_token()
    source.revoked_at = None
    source.save(update_fields=["token_hash", "token_hint", "revoked_at"])
    return token


def revoke_source(source: Source) -> None:
    """Stop accepting the source's token; its batches and rows stay. Revoking twice is a no-op."""
    if source.revoked_at is None:
        source.revoked_at = timezone.now()
        source.save(update_fields=["revoked_at"])
