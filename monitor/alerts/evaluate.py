"""One evaluation pass of every enabled alert rule: incidents open, resolve and remind.

Per rule and minute:

- **Claim.** A conditional update moves the rule's `evaluated_minute` forward; an evaluator whose
  update changes no row finds the minute (or a later one) done by someone else and skips the
  rule. The update and everything that follows are one transaction, so two evaluators running
  at once (beat plus `manage.py evaluate_alerts`, two beat hosts) act once. The partial unique
  constraint "one firing incident per rule" and the unique (incident, kind, sequence) of
  notifications back this up in the database.
- **Open** when the value is above the threshold, the rule has no firing incident, and its last
  incident resolved more than `cooldown_minutes` ago. One "opened" mail.
- **Resolve** (hysteresis) only when the value falls below threshold × ALERTS_RESOLVE_FACTOR
  (0.8 by default), or there is no verdict any more (no traffic). A value hovering around the
  threshold keeps the incident open and quiet. One "resolved" mail, unless muted.
- **Remind** a firing incident that nobody acknowledged or muted every `reminder_minutes`.

Mail is only stored here (Notification rows, same transaction); monitor/alerts/delivery.py
sends it after commit.
"""

import logging
from collections import Counter
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from monitor.alerts import delivery, metrics
from monitor.alerts.models import AlertRule, Incident, Notification

log = logging.getLogger(__name__)


def floor_minute(at: datetime) -> datetime:
    return at.replace(second=0, microsecond=0)


def evaluate_rules(at: datetime | None = None) -> dict[str, int]:
    """Evaluate every enabled rule as of `at` (default now); counts of what happened, by
    outcome: evaluated, skipped (done by another evaluator), opened, resolved, reminded."""
    minute = floor_minute(at or timezone.now())
    outcomes: Counter[str] = Counter()
    rules = AlertRule.objects.filter(enabled=True).select_related("project", "endpoint")
    for rule in rules.order_by("id"):
        try:
            outcome = evaluate_rule(rule, minute)
        except Exception:
            # One broken rule must not stop the others; the next minute tries again.
            log.exception("evaluating alert rule %s failed", rule.pk)
            outcome = "error"
        outcomes[outcome] += 1
        if outcome not in ("skipped", "error"):
            outcomes["evaluated"] += 1
    return dict(outcomes)


def evaluate_rule(rule: AlertRule, minute: datetime) -> str:
    """Evaluate one rule for one minute; answers opened, resolved, reminded, firing, quiet or
    skipped."""
    # Read the rollups before taking the claim, so that the claim's lock is held briefly.
    reading = metrics.measure(rule, minute)
    try:
        with transaction.atomic():
            claimed = (
                AlertRule.objects.filter(pk=rule.pk, enabled=True)
                .filter(Q(evaluated_minute__isnull=True) | Q(evaluated_minute__lt=minute))
                .update(evaluated_minute=minute, last_value=reading.value)
            )
            if not claimed:
                return "skipped"
            return _transition(rule, minute, reading)
    except IntegrityError:
        # Only reachable if the claim were bypassed; the constraints kept the state right.
        log.warning("alert rule %s: a concurrent evaluation won", rule.pk)
        return "skipped"


def _breaches(rule: AlertRule, value: float | None, threshold: float) -> bool:
    return value is not None and value > threshold


def _transition(rule: AlertRule, minute: datetime, reading: metrics.Reading) -> str:
    incident = Incident.objects.filter(rule=rule, state=Incident.State.FIRING).first()
    if incident is None:
        if not _breaches(rule, reading.value, rule.threshold):
            return "quiet"
        if _cooling_down(rule, minute):
            return "cooldown"
        incident = Incident.objects.create(
            rule=rule,
            opened_at=minute,
            value=reading.value,
            peak_value=reading.value,
            last_value=reading.value,
            threshold=rule.threshold,
            details={"requests": reading.requests, **reading.details},
            last_notified_at=minute,
        )
        _notify(incident, Notification.Kind.OPENED, minute)
        return "opened"

    incident.last_value = reading.value
    if reading.value is not None:
        incident.peak_value = max(incident.peak_value, reading.value)
    resolve_below = incident.threshold * settings.ALERTS_RESOLVE_FACTOR
    if reading.value is None or reading.value < resolve_below:
        incident.state = Incident.State.RESOLVED
        incident.resolved_at = minute
        incident.save(update_fields=["state", "resolved_at", "last_value", "peak_value"])
        if not incident.is_muted(minute):
            _notify(incident, Notification.Kind.RESOLVED, minute)
        return "resolved"
    outcome = "firing"
    fields = ["last_value", "peak_value"]
    if _reminder_due(rule, incident, minute):
        incident.reminders += 1
        incident.last_notified_at = minute
        fields += ["reminders", "last_notified_at"]
        _notify(incident, Notification.Kind.REMINDER, minute, sequence=incident.reminders)
        outcome = "reminded"
    incident.save(update_fields=fields)
    return outcome


def _cooling_down(rule: AlertRule, minute: datetime) -> bool:
    if not rule.cooldown_minutes:
        return False
    since = minute - timedelta(minutes=rule.cooldown_minutes)
    return Incident.objects.filter(
        rule=rule, state=Incident.State.RESOLVED, resolved_at__gt=since
    ).exists()


def _reminder_due(rule: AlertRule, incident: Incident, minute: datetime) -> bool:
    if not rule.reminder_minutes or incident.acknowledged_at or incident.is_muted(minute):
        return False
    last = incident.last_notified_at or incident.opened_at
    return minute >= last + timedelta(minutes=rule.reminder_minutes)


def _notify(incident: Incident, kind: str, minute: datetime, sequence: int = 0) -> None:
    rule = incident.rule
    if not rule.recipients:
        return  # an incident without mail still shows on the incidents page
    delivery.store(rule, kind, minute, incident=incident, sequence=sequence)
