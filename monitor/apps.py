"""The monitoring app: registers its deploy checks (monitor/ops/checks.py) at start-up."""

from django.apps import AppConfig


class MonitorConfig(AppConfig):
    name = "monitor"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from monitor.ops import checks  # noqa: F401 - registers the deploy checks
