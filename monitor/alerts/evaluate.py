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
  (0.8 by default). A value hovering around the threshold keeps the incident open and quiet.
  One "resolved" message, unless muted.
- **No data is not recovery.** A window without a verdict (no requests, too little traffic, no
  baseline) neither opens nor resolves: a firing incident stays firing and records since when
  it has had no data (`no_data_since`), so that a broken shipper never reads as "all is well".
  A quiet shipper is what the `silence_min` metric is for.
- **Remind** a firing incident that nobody acknowledged or muted every `reminder_minutes`.

Messages are only stored here (Notification rows, same transaction: one mail to the recipients,
one POST per channel); monitor/alerts/delivery.py sends them after commit.
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
from monitor.reads import deploys

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
    """Evaluate one rule for one minute; answers opened, resolved, reminded, firing, no_data
    (firing, without a verdict), quiet, cooldown or skipped."""
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
        details = {"requests": reading.requests, **reading.details}
        deploy = deploys.preceding(rule.project, minute, rule.window_minutes)
        if deploy is not None:
            details["deploy"] = deploys.as_data(deploy)
        incident = Incident.objects.create(
            rule=rule,
            opened_at=minute,
            value=reading.value,
            peak_value=reading.value,
            last_value=reading.value,
            threshold=rule.threshold,
            details=details,
            last_notified_at=minute,
        )
        _notify(incident, Notification.Kind.OPENED, minute)
        return "opened"

    incident.last_value = reading.value
    fields = ["last_value", "peak_value", "no_data_since", "details"]
    if reading.value is None:
        # No verdict: hold the incident as it is and say since when nothing was seen.
        if incident.no_data_since is None:
            incident.no_data_since = minute - timedelta(minutes=rule.window_minutes)
        incident.details = {**incident.details, "no_data_reason": _no_data_reason(reading)}
    else:
        incident.no_data_since = None
        incident.details.pop("no_data_reason", None)
        incident.peak_value = max(incident.peak_value, reading.value)
        if reading.value < incident.threshold * settings.ALERTS_RESOLVE_FACTOR:
            incident.state = Incident.State.RESOLVED
            incident.resolved_at = minute
            incident.save(update_fields=[*fields, "state", "resolved_at"])
            if not incident.is_muted(minute):
                _notify(incident, Notification.Kind.RESOLVED, minute)
            return "resolved"
    outcome = "no_data" if reading.value is None else "firing"
    if _reminder_due(rule, incident, minute):
        incident.reminders += 1
        incident.last_notified_at = minute
        fields += ["reminders", "last_notified_at"]
        _notify(incident, Notification.Kind.REMINDER, minute, sequence=incident.reminders)
        outcome = "reminded"
    incident.save(update_fields=fields)
    return outcome


def _no_data_reason(reading: metrics.Reading) -> str:
    if reading.no_data:
        return "no requests in the window"
    return reading.details.get("reason", "no verdict")


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
    # A rule without recipients or channels stores nothing: its incidents still show on the
    # incident pages.
    delivery.store_for_rule(incident.rule, kind, minute, incident=incident, sequence=sequence)
