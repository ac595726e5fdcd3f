"""What every alert message says, whatever carries it (mail, webhook, Slack): the rule, the
value against the threshold, the top causes, clients and resources of the window, the deploy
that preceded the incident, and links, the first of them to the incident itself.

Values here are plain data; each carrier escapes them for its own markup (HTML in mail, JSON in
webhooks, Slack's mrkdwn). Rule names, clients and paths are attacker-influenced text.
"""

from datetime import datetime
from urllib.parse import urljoin

from django.conf import settings
from django.urls import reverse

from monitor.alerts import forensics, metrics
from monitor.alerts.formatting import METRIC_NAMES, format_value
from monitor.alerts.models import AlertRule, Incident, Metric, Notification

HEADLINES = {
    Notification.Kind.OPENED: "Firing",
    Notification.Kind.RESOLVED: "Resolved",
    Notification.Kind.REMINDER: "Still firing",
    Notification.Kind.TEST: "Test",
}


def url(name: str, *args, query: str = "") -> str:
    """An absolute link into ConflictWatch (CONFLICTWATCH_BASE_URL + the named page)."""
    base = settings.CONFLICTWATCH_BASE_URL.rstrip("/") + "/"
    return urljoin(base, reverse(name, args=args)) + query


def links(rule: AlertRule, incident: Incident | None = None) -> dict:
    """Links of a message: the incident (when there is one), its rule's incidents, the rule,
    the overview and the rule's endpoint."""
    slug = rule.project.slug
    out = {}
    if incident is not None:
        out["incident"] = url("alerts:incident", slug, incident.id)
    out["incidents"] = url("alerts:incidents", slug, query=f"?rule={rule.id}")
    out["rule"] = url("alerts:rule", slug, rule.id)
    out["overview"] = url("overview", slug)
    if rule.endpoint_id:
        out["endpoint"] = url("endpoint", slug, rule.endpoint_id)
    return out


def incident_deploy(incident: Incident) -> dict | None:
    """The deploy that preceded the incident (kept in its details when it opened), with its
    time as a datetime; None when there was none."""
    data = incident.details.get("deploy")
    if not data:
        return None
    return {**data, "ts": datetime.fromisoformat(data["ts"])}


def _iso(at: datetime | None) -> str | None:
    return at.isoformat().replace("+00:00", "Z") if at else None


def headline(notification: Notification) -> str:
    """One line that says it all, e.g. 'Firing: Checkout conflicts - conflict rate 32.0% >
    20.0% (PUT /orders/{id})'. Plain text: escape it for the medium."""
    rule = notification.rule
    incident = notification.incident
    name = METRIC_NAMES.get(rule.metric, rule.metric)
    head = f"{HEADLINES[notification.kind]}: {rule.name}"
    if incident is None:
        return f"{head} - a test message from ConflictWatch"
    threshold = format_value(rule.metric, incident.threshold)
    if notification.kind == Notification.Kind.RESOLVED:
        return f"{head} - {name} {format_value(rule.metric, incident.last_value)} ({rule.scope()})"
    value = incident.value if notification.kind == Notification.Kind.OPENED else incident.last_value
    return f"{head} - {name} {format_value(rule.metric, value)} > {threshold} ({rule.scope()})"


def facts(notification: Notification) -> dict:
    """The message as plain data (the webhook's JSON body; Slack's blocks are built from it)."""
    rule = notification.rule
    incident = notification.incident
    at = notification.event_at
    data = {
        "event": notification.kind,
        "delivery": notification.id,
        "at": _iso(at),
        "summary": headline(notification),
        "project": {"slug": rule.project.slug, "name": rule.project.name},
        "rule": {
            "id": rule.id,
            "name": rule.name,
            "metric": rule.metric,
            "metric_name": METRIC_NAMES.get(rule.metric, rule.metric),
            "threshold": rule.threshold,
            "threshold_text": format_value(rule.metric, rule.threshold),
            "window_minutes": rule.window_minutes,
            "scope": rule.scope(),
        },
        "incident": None,
        "links": links(rule, incident),
        "deploy": None,
    }
    if incident is not None:
        data["incident"] = {
            "id": incident.id,
            "state": incident.state,
            "opened_at": _iso(incident.opened_at),
            "resolved_at": _iso(incident.resolved_at),
            "value": incident.value,
            "value_text": format_value(rule.metric, incident.value),
            "peak_value": incident.peak_value,
            "last_value": incident.last_value,
            "last_text": format_value(rule.metric, incident.last_value),
            "threshold": incident.threshold,
            "no_data_since": _iso(incident.no_data_since),
        }
        data["deploy"] = incident.details.get("deploy")
    else:
        reading = metrics.measure(rule, at)
        data["current"] = {
            "value": reading.value,
            "value_text": format_value(rule.metric, reading.value),
        }
    if rule.metric == Metric.SILENCE_MIN:
        last = metrics.last_record_at(rule, at)
        data["last_record_at"] = _iso(last)
    elif notification.kind != Notification.Kind.RESOLVED:
        data["causes"] = [{"cause": c, "conflicts": n} for c, n in forensics.top_causes(rule, at)]
        data["clients"] = forensics.offenders(rule, at)
        data["resources"] = forensics.resources(rule, at)
    return data
