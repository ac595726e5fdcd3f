"""Recording a deploy (a release of the project's API), for the API and `manage.py deploy`."""

from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.utils import timezone

from monitor.models import Deploy, Project

# Deploys are marked on charts of the kept data; one far in the future is a typo.
MAX_AHEAD = timedelta(days=1)
_CONTROL = frozenset(chr(c) for c in [*range(0x20), 0x7F])


class DeployError(ValueError):
    """Bad input for a deploy; the message names the field."""


def _text(name: str, value: str, limit: int, *, required: bool = False, line: bool = True) -> str:
    value = (value or "").strip()
    if required and not value:
        raise DeployError(f"{name}: required")
    if len(value) > limit:
        raise DeployError(f"{name}: at most {limit} characters")
    if "\x00" in value or (line and any(c in _CONTROL for c in value)):
        raise DeployError(f"{name}: must be one line without control characters")
    return value


def record(
    project: Project,
    version: str,
    *,
    ts: datetime | None = None,
    environment: str = "",
    description: str = "",
    url: str = "",
    user=None,
) -> Deploy:
    """Store a deploy of `version` at `ts` (default now); raises DeployError on bad input."""
    now = timezone.now()
    ts = ts or now
    if timezone.is_naive(ts):
        raise DeployError("ts: needs a time zone offset (or Z)")
    if ts > now + MAX_AHEAD:
        raise DeployError("ts: more than a day in the future")
    url = _text("url", url, 2000)
    if url:
        try:
            URLValidator(schemes=["http", "https"])(url)
        except ValidationError:
            raise DeployError("url: expected an http(s) URL") from None
    return Deploy.objects.create(
        project=project,
        version=_text("version", version, 200, required=True),
        ts=ts,
        environment=_text("environment", environment, 64),
        description=_text("description", description, 2000, line=False),
        url=url,
        created_by=user if getattr(user, "is_authenticated", False) else None,
    )
