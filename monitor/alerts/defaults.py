"""The rules every new project starts with.

They are created disabled and without recipients: a rule that mails nobody, or mails someone
who never asked, is worse than none. Someone adds recipients and enables them on the alerts page
(or through the rules/ API).
"""

from monitor.alerts.models import AlertRule, Metric
from monitor.models import Project

DEFAULT_RULES = [
    {
        "name": "Conflict rate above 20%",
        "metric": Metric.CONFLICT_RATE,
        "threshold": 0.2,
        "window_minutes": 10,
    },
    {
        "name": "5xx rate above 5%",
        "metric": Metric.STATUS_RATE,
        "status": "5xx",
        "threshold": 0.05,
        "window_minutes": 5,
    },
    {
        "name": "p95 latency above 1 s",
        "metric": Metric.P95_MS,
        "threshold": 1000.0,
        "window_minutes": 5,
    },
    {
        "name": "Conflict rate 1.5x the usual for the hour",
        "metric": Metric.ANOMALY,
        "threshold": 1.5,
        "window_minutes": 60,
    },
]


def create_default_rules(project: Project) -> list[AlertRule]:
    """Add the default rules (disabled, no recipients) to a project that has no rules yet."""
    if AlertRule.objects.filter(project=project).exists():
        return []
    return AlertRule.objects.bulk_create(
        AlertRule(project=project, enabled=False, recipients=[], **rule) for rule in DEFAULT_RULES
    )


def on_project_saved(sender, instance: Project, created: bool, raw: bool = False, **kwargs):
    if created and not raw:
        create_default_rules(instance)
