"""Creating projects and their ingest sources."""

from django.db import transaction

from ingest.formats import FORMATS, unknown_format_error
from ingest.models import Source
from monitor.models import Project


class SourceError(ValueError):
    pass


@transaction.atomic
def create_source(project_slug: str, name: str, fmt: str = "", *, rotate: bool = False):
    """Create the project if needed and a source in it; returns (source, token in clear).

    With rotate=True an existing source of that name gets a new token (the old one stops
    working); without it an existing name is an error.
    """
    if fmt and fmt not in FORMATS:
        raise SourceError(unknown_format_error(fmt))
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
