"""Alert rules and incidents in the Django admin, for operators."""

from django.contrib import admin

from monitor.alerts.models import AlertRule, Incident


@admin.register(AlertRule)
class AlertRuleAdmin(admin.ModelAdmin):
    list_display = ["name", "project", "metric", "threshold", "window_minutes", "enabled"]
    list_filter = ["enabled", "metric", "project"]
    search_fields = ["name", "project__slug"]
    raw_id_fields = ["endpoint"]
    readonly_fields = ["created_at", "updated_at", "evaluated_minute", "last_value"]


@admin.register(Incident)
class IncidentAdmin(admin.ModelAdmin):
    list_display = ["rule", "state", "opened_at", "resolved_at", "value", "acknowledged_at"]
    list_filter = ["state"]
    search_fields = ["rule__name", "rule__project__slug"]
    raw_id_fields = ["rule", "acknowledged_by"]
    date_hierarchy = "opened_at"
