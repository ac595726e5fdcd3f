"""What people do to rules and incidents, shared by the pages and the API: save a rule, send a
test mail, acknowledge an incident, mute it until a time."""

from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from monitor.alerts import delivery
from monitor.alerts.models import AlertRule, Incident, Notification

MAX_MUTE = timedelta(days=30)


class ActionError(ValueError):
    """Bad input for an action; the message names the problem."""


@transaction.atomic
def save_rule(rule: AlertRule) -> AlertRule:
    """Save a validated rule. Disabling it closes its firing incident without mail (nobody
    evaluates it any more, so nothing else would)."""
    rule.save()
    if not rule.enabled:
        Incident.objects.filter(rule=rule, state=Incident.State.FIRING).update(
            state=Incident.State.RESOLVED, resolved_at=timezone.now()
        )
    return rule


def send_test(rule: AlertRule) -> Notification:
    """Store a test mail for the rule and try to send it right away; answers the notification
    with its delivery state (a failed attempt is retried like any alert mail)."""
    if not rule.recipients:
        raise ActionError("recipients: the rule has no recipients to send a test to")
    with transaction.atomic():
        notification = delivery.store(
            rule, Notification.Kind.TEST, timezone.now().replace(second=0, microsecond=0)
        )
    # In the request, so that the person who pressed the button sees whether mail works.
    delivery.deliver(notification.id)
    notification.refresh_from_db()
    return notification


def acknowledge(incident: Incident, user) -> Incident:
    """Mark a firing incident as seen: no more reminders. Acknowledging twice keeps the first."""
    Incident.objects.filter(pk=incident.pk, acknowledged_at__isnull=True).update(
        acknowledged_at=timezone.now(), acknowledged_by=user
    )
    incident.refresh_from_db()
    return incident


def mute(incident: Incident, until: datetime | None) -> Incident:
    """No reminder or resolved mail for this incident until `until`; None unmutes."""
    if until is not None:
        now = timezone.now()
        if until <= now:
            raise ActionError("until: must be in the future")
        if until - now > MAX_MUTE:
            raise ActionError(f"until: at most {MAX_MUTE.days} days ahead")
    Incident.objects.filter(pk=incident.pk).update(muted_until=until)
    incident.refresh_from_db()
    return incident
