from datetime import timedelta

from django import template

from monitor.alerts.formatting import format_value

register = template.Library()


@register.filter
def duration(value: timedelta | None) -> str:
    """timedelta(hours=1, minutes=5) -> '1 h 5 min'."""
    if value is None:
        return "–"
    minutes = int(value.total_seconds() // 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"


@register.filter
def metric_value(value, metric: str) -> str:
    """A rule's value in its unit: {{ incident.value|metric_value:rule.metric }}."""
    return format_value(metric, value)
