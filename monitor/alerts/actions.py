"""What people do to rules and incidents, shared by the pages and the API: save a rule, add or
remove its channels, send a test mail or a test to one channel, acknowledge an incident, mute it
until a time."""

from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.utils import timezone

from monitor.alerts import delivery, destinations
from monitor.alerts.models import (
    MAX_CHANNELS,
    MAX_TARGET_LENGTH,
    AlertRule,
    Channel,
    Incident,
    Notification,
)

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


def channel_target_error(kind: str, target: str) -> str | None:
    """Why a channel's kind or URL is unusable, or None."""
    if kind not in Channel.Kind.values:
        return f"kind: one of email, {', '.join(Channel.Kind.values)}, got {kind[:20]!r}"
    if not isinstance(target, str) or not target.strip():
        return "target: the URL to POST to is required"
    if len(target) > MAX_TARGET_LENGTH:
        return f"target: at most {MAX_TARGET_LENGTH} characters"
    try:
        URLValidator(schemes=["http", "https"])(target)
    except ValidationError:
        return f"target: expected an http(s) URL, got {target[:80]!r}"
    refused = destinations.literal_refusal(target)
    if refused:
        return f"target: {refused}"
    return None


def add_channel(rule: AlertRule, kind: str, target: str) -> tuple[Channel, str]:
    """Add a webhook or Slack channel to the rule; answers it and its signing secret (a
    webhook's; empty for Slack), which is shown this once. The same URL twice is an error."""
    target = (target or "").strip()
    error = channel_target_error(kind, target)
    if error:
        raise ActionError(error)
    with transaction.atomic():
        # Lock the rule so that two adds at once cannot pass the limit together.
        AlertRule.objects.select_for_update().filter(pk=rule.pk).first()
        if rule.channels.filter(kind=kind, target=target).exists():
            raise ActionError(f"target: this rule already sends to that {kind} URL")
        if rule.channels.count() >= MAX_CHANNELS:
            raise ActionError(f"channels: at most {MAX_CHANNELS} per rule")
        channel = Channel(rule=rule, kind=kind, target=target)
        secret = channel.issue_secret()
        channel.save()
    return channel, secret


def set_channels(rule: AlertRule, wanted: list[dict]) -> dict[int, str]:
    """Make the rule's webhook and Slack channels exactly `wanted` ([{"kind", "target"}]):
    channels kept keep their secret, new ones get one. Answers {channel id: secret} of the new
    webhook channels (to show once)."""
    keep = {(c["kind"], c["target"]) for c in wanted}
    with transaction.atomic():
        rule.channels.exclude(
            id__in=[c.id for c in rule.channels.all() if (c.kind, c.target) in keep]
        ).delete()
        have = {(c.kind, c.target) for c in rule.channels.all()}
        secrets = {}
        for kind, target in sorted(keep - have):
            channel, secret = add_channel(rule, kind, target)
            if secret:
                secrets[channel.id] = secret
    return secrets


def remove_channel(channel: Channel) -> None:
    """Remove a channel; its past deliveries stay in the incidents' logs, its pending ones give
    up."""
    channel.delete()


def send_channel_test(channel: Channel) -> Notification:
    """Store a test message for one channel and try to send it right away (retried like any
    alert message when it fails); answers the notification with its delivery state."""
    with transaction.atomic():
        notification = delivery.store(
            channel.rule,
            Notification.Kind.TEST,
            timezone.now().replace(second=0, microsecond=0),
            channel=channel,
        )
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
