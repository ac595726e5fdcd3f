"""System checks of a production configuration (`manage.py check --deploy`)."""

from django.conf import settings
from django.core.checks import Tags, Warning, register

LOCAL_CACHES = (
    "django.core.cache.backends.locmem.LocMemCache",
    "django.core.cache.backends.dummy.DummyCache",
)


@register(Tags.caches, deploy=True)
def shared_cache(app_configs, **kwargs) -> list[Warning]:
    """A cache local to each process counts the API rate limit once per gunicorn worker."""
    if settings.CACHES["default"]["BACKEND"] not in LOCAL_CACHES:
        return []
    return [
        Warning(
            "CACHE_URL is not set: the API rate limit is counted in each web process's own "
            "memory, so N gunicorn workers allow N times the limit.",
            hint="Set CACHE_URL=redis://HOST:6379/1 (docker-compose.yml does).",
            id="conflictwatch.W001",
        )
    ]
