from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _create_partitions(sender, using: str = "default", **kwargs) -> None:
    """After `migrate`: the raw table's partitions for today and the next two days."""
    from ingest import partitions

    partitions.ensure_ahead()


class IngestConfig(AppConfig):
    name = "ingest"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        post_migrate.connect(_create_partitions, sender=self)
