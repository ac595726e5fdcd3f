"""Alert rules, the incidents they open, and the mail each incident sends.

A rule is evaluated every minute from the rollups (monitor/alerts/evaluate.py). At most one
incident per rule is firing at a time (a partial unique constraint, so that two evaluators can
never open two). Every mail is stored as a Notification first and sent afterwards
(monitor/alerts/delivery.py), so that an unreachable SMTP server delays mail but never loses it.
"""

import re

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, validate_email
from django.db import models

from monitor.models import Endpoint, Project
from monitor.rules.causes import CAUSES

MAX_RECIPIENTS = 20
MAX_WINDOW_MINUTES = 1440
# The range of a positive integer column on Postgres, for every database.
MAX_MIN_REQUESTS = 2**31 - 1
# "409" or a class such as "5xx".
STATUS_PATTERN = re.compile(r"^(?:[1-5][0-9][0-9]|[1-5]xx)$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u0085\u2028\u2029]")


class Metric(models.TextChoices):
    CONFLICT_RATE = "conflict_rate", "Conflict rate (fraction of requests)"
    CONFLICTS = "conflicts", "Conflicts (count)"
    STATUS_RATE = "status_rate", "Status rate (fraction of requests)"
    P95_MS = "p95_ms", "p95 latency (ms)"
    ANOMALY = "anomaly", "Conflict rate vs the same hour on past days (factor)"


RATE_METRICS = frozenset({Metric.CONFLICT_RATE, Metric.STATUS_RATE})


class AlertRule(models.Model):
    """Fires when `metric` over the last `window_minutes` goes above `threshold`.

    Rates are fractions (0.2 = 20%); `p95_ms` is milliseconds; `anomaly` is a factor over the
    usual conflict rate at that hour of day (2.0 = twice as many conflicts as usual).
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="alert_rules")
    name = models.CharField(max_length=200)
    metric = models.CharField(max_length=16, choices=Metric.choices)
    threshold = models.FloatField()
    window_minutes = models.PositiveIntegerField(default=10)
    endpoint = models.ForeignKey(Endpoint, on_delete=models.CASCADE, null=True, blank=True)
    cause = models.CharField(
        max_length=32, blank=True, default="", choices=[(c, c) for c in CAUSES]
    )
    # An exact status ("409") or a class ("5xx"); required by status_rate.
    status = models.CharField(max_length=3, blank=True, default="")
    recipients = models.JSONField(default=list, blank=True)
    # After an incident resolves, no new incident opens for this long (no mail storm).
    cooldown_minutes = models.PositiveIntegerField(default=10)
    # A firing, unacknowledged incident is mailed again after this long; None: never.
    reminder_minutes = models.PositiveIntegerField(null=True, blank=True)
    # Rates, latency and anomaly give no verdict on less traffic than this in the window.
    min_requests = models.PositiveIntegerField(
        default=20, validators=[MaxValueValidator(MAX_MIN_REQUESTS)]
    )
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # The minute of the last evaluation: evaluators claim a minute by moving it forward.
    evaluated_minute = models.DateTimeField(null=True, blank=True, editable=False)
    last_value = models.FloatField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["name", "id"]
        indexes = [models.Index(fields=["enabled"], name="alerts_rule_enabled")]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        errors: dict[str, str] = {}
        if _CONTROL.search(self.name or ""):
            errors["name"] = "must not contain control characters or line breaks"
        elif not (self.name or "").strip():
            errors["name"] = "must not be blank"
        errors.update(self._threshold_errors())
        if not 1 <= (self.window_minutes or 0) <= MAX_WINDOW_MINUTES:
            errors["window_minutes"] = f"must be within 1-{MAX_WINDOW_MINUTES} minutes"
        if self.status and not STATUS_PATTERN.match(self.status):
            errors["status"] = (
                f"expected a status such as 409 or a class such as 5xx, got {self.status[:20]!r}"
            )
        if self.metric == Metric.STATUS_RATE and not self.status:
            errors["status"] = "status_rate needs a status or a class, e.g. 5xx"
        if self.metric == Metric.P95_MS and (self.cause or self.status):
            errors["cause" if self.cause else "status"] = (
                "p95_ms is measured per endpoint; it cannot be filtered by cause or status"
            )
        if self.metric == Metric.STATUS_RATE and self.cause:
            errors["cause"] = "status_rate counts statuses; use conflict_rate for a cause"
        if (
            self.endpoint_id is not None
            and self.project_id is not None
            and not Endpoint.objects.filter(
                pk=self.endpoint_id, project_id=self.project_id
            ).exists()
        ):
            errors["endpoint"] = f"no endpoint {self.endpoint_id} in this project"
        recipients_error = _recipients_error(self.recipients)
        if recipients_error:
            errors["recipients"] = recipients_error
        if errors:
            raise ValidationError(errors)
        self.recipients = normalize_recipients(self.recipients)

    def _threshold_errors(self) -> dict[str, str]:
        t = self.threshold
        if t is None:
            return {"threshold": "required"}
        if self.metric in RATE_METRICS and not 0 < t < 1:
            return {
                "threshold": f"{self.metric} is a fraction above 0 and below 1 (0.2 = 20%), got {t:g}"
            }
        if self.metric == Metric.ANOMALY and not t > 1:
            return {"threshold": f"anomaly is a factor over the usual rate, above 1, got {t:g}"}
        if self.metric in (Metric.CONFLICTS, Metric.P95_MS) and not t > 0:
            return {"threshold": f"must be above 0, got {t:g}"}
        return {}

    def scope(self) -> str:
        """The rule's filters in words, e.g. 'POST /orders, cause duplicate'."""
        parts = [str(self.endpoint) if self.endpoint_id else "all endpoints"]
        if self.cause:
            parts.append(f"cause {self.cause}")
        if self.status:
            parts.append(f"status {self.status}")
        return ", ".join(parts)


def normalize_recipients(recipients) -> list[str]:
    seen: list[str] = []
    for r in recipients or []:
        r = r.strip()
        if r and r.lower() not in (s.lower() for s in seen):
            seen.append(r)
    return seen


def _recipients_error(recipients) -> str | None:
    if not isinstance(recipients, list) or not all(isinstance(r, str) for r in recipients):
        return "expected a list of email addresses"
    if len(recipients) > MAX_RECIPIENTS:
        return f"at most {MAX_RECIPIENTS} recipients"
    for r in recipients:
        try:
            if _CONTROL.search(r):
                raise ValidationError("control character")
            validate_email(r.strip())
        except ValidationError:
            return f"{r[:80]!r} is not a valid email address"
    return None


class Incident(models.Model):
    """One stretch of time a rule was firing: opened, then resolved."""

    class State(models.TextChoices):
        FIRING = "firing"
        RESOLVED = "resolved"

    rule = models.ForeignKey(AlertRule, on_delete=models.CASCADE, related_name="incidents")
    state = models.CharField(max_length=16, choices=State.choices, default=State.FIRING)
    opened_at = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)
    # The value that opened it, the highest seen, and the latest.
    value = models.FloatField()
    peak_value = models.FloatField()
    last_value = models.FloatField(null=True, blank=True)
    threshold = models.FloatField()
    # What else the evaluation knew (requests in the window, the anomaly's baseline, ...).
    details = models.JSONField(default=dict, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )
    muted_until = models.DateTimeField(null=True, blank=True)
    reminders = models.PositiveIntegerField(default=0)
    last_notified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-opened_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["rule"],
                condition=models.Q(state="firing"),
                name="alerts_one_firing_incident_per_rule",
            ),
        ]
        indexes = [models.Index(fields=["rule", "-opened_at"], name="alerts_incident_rule")]

    def __str__(self) -> str:
        return f"{self.rule} ({self.state} since {self.opened_at:%Y-%m-%d %H:%M})"

    def is_muted(self, at) -> bool:
        return self.muted_until is not None and self.muted_until > at


class Notification(models.Model):
    """One mail to send: stored in the evaluation's transaction, then delivered with retries."""

    class Kind(models.TextChoices):
        OPENED = "opened"
        RESOLVED = "resolved"
        REMINDER = "reminder"
        TEST = "test"

    class State(models.TextChoices):
        PENDING = "pending"
        SENT = "sent"
        # The last attempt failed: retried at next_attempt_at, or given up when that is empty.
        FAILED = "failed"

    rule = models.ForeignKey(AlertRule, on_delete=models.CASCADE, related_name="notifications")
    incident = models.ForeignKey(
        Incident, on_delete=models.CASCADE, null=True, blank=True, related_name="notifications"
    )
    kind = models.CharField(max_length=16, choices=Kind.choices)
    # 0 for opened/resolved; the reminder's number for reminders.
    sequence = models.PositiveIntegerField(default=0)
    # The instant the mail describes (the evaluation that opened, resolved or reminded).
    event_at = models.DateTimeField()
    recipients = models.JSONField(default=list)
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            # One opened and one resolved mail per incident, one per reminder number.
            models.UniqueConstraint(
                fields=["incident", "kind", "sequence"], name="alerts_notification_once"
            ),
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                name="alerts_notification_due",
                condition=models.Q(state__in=["pending", "failed"]),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} mail for {self.rule} ({self.state})"

    @property
    def gave_up(self) -> bool:
        return self.state == self.State.FAILED and self.next_attempt_at is None
