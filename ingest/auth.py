"""Source tokens: who is shipping, and into which project."""

from datetime import timedelta

from django.http import HttpRequest
from django.utils import timezone

from ingest.models import Source, hash_token

TOKEN_HEADERS = ("HTTP_X_CONFLICTWATCH_TOKEN", "HTTP_X_AMZ_FIREHOSE_ACCESS_KEY")
_LAST_USED_PRECISION = timedelta(minutes=1)


def token_from(request: HttpRequest) -> str | None:
    auth = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, value = auth.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    for header in TOKEN_HEADERS:
        if request.META.get(header, "").strip():
            return request.META[header].strip()
    return None


def source_for_token(token: str | None) -> Source | None:
    """The live source whose token this is, or None."""
    if not token or len(token) > 200:
        return None
    source = (
        Source.objects.select_related("project")
        .filter(token_hash=hash_token(token), revoked_at__isnull=True)
        .first()
    )
    if source is not None:
        now = timezone.now()
        if source.last_used_at is None or now - source.last_used_at > _LAST_USED_PRECISION:
            Source.objects.filter(pk=source.pk).update(last_used_at=now)
    return source
