from django.apps import AppConfig


class AlertsConfig(AppConfig):
    name = "monitor.alerts"
    label = "alerts"
    verbose_name = "Alerts"

    def ready(self) -> None:
        # Default rules for every new project, wherever it is created (createsource, the
        # demo, the admin, importlog).
        from django.db.models.signals import post_save

        from monitor.alerts import (
            defaults,
            tasks,  # noqa: F401 - registers the tasks with Celery
        )
        from monitor.models import Project

        post_save.connect(
            defaults.on_project_saved, sender=Project, dispatch_uid="alerts-default-rules"
        )
