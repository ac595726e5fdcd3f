"""Alert mail: one function per message, each rendered from templates/alerts/<message>_*.

Every message has a subject (`*_subject.txt`), a text body (`*_body.txt`) and an HTML body
(`*_body.html`, autoescaped). Rule names, routes, clients and paths are attacker-influenced: the
subject goes through `header_text` (no CR/LF or other controls can reach a header, whatever the
database holds), and the HTML template escapes every value.

A mail describes its notification's `event_at` (the evaluation that decided it), so a mail
retried an hour later still tells what happened then.
"""

from datetime import datetime
from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.template.loader import render_to_string

from monitor.alerts import content, forensics, metrics
from monitor.alerts.formatting import METRIC_NAMES, format_value, header_text, sparkline
from monitor.alerts.models import AlertRule, Metric, Notification

SPARK_MINUTES = 60
# RFC 5322's hard limit of a line. Django folds an ASCII subject at 76 characters and Python's
# mail generator folds headers at 78, which spread a subject over three lines; a subject (at most
# 180 characters, header_text) stays on one. Non-ASCII subjects are still split into encoded
# words, as RFC 2047 asks.
HEADER_LINE_MAX = 998


class AlertMessage(EmailMultiAlternatives):
    """A multipart mail whose headers are folded only past RFC 5322's line limit."""

    def message(self):
        msg = super().message()
        msg.policy = msg.policy.clone(max_line_length=HEADER_LINE_MAX)
        if self.subject.isascii() and "\n" not in self.subject and "\r" not in self.subject:
            msg.replace_header("Subject", self.subject)
        return msg


def _context(notification: Notification) -> dict:
    rule = notification.rule
    incident = notification.incident
    at = notification.event_at
    values = metrics.per_minute(rule, at, SPARK_MINUTES)
    context = {
        "project": rule.project,
        "rule": rule,
        "incident": incident,
        "at": at,
        "metric_name": METRIC_NAMES.get(rule.metric, rule.metric),
        "scope": rule.scope(),
        "threshold_text": format_value(
            rule.metric, incident.threshold if incident else rule.threshold
        ),
        "sparkline": sparkline(values),
        "spark_max": format_value(
            rule.metric, max((v for v in values if v is not None), default=None)
        ),
        "spark_minutes": SPARK_MINUTES,
        "links": content.links(rule, incident),
    }
    if rule.metric == Metric.SILENCE_MIN:
        context["last_record_at"] = metrics.last_record_at(rule, at)
    if incident is not None:
        context.update(
            value_text=format_value(rule.metric, incident.value),
            peak_text=format_value(rule.metric, incident.peak_value),
            last_text=format_value(rule.metric, incident.last_value),
            # The anomaly's conflict rate now and its usual rate at this hour.
            rate_text=_rate(incident.details.get("rate")),
            baseline_text=_rate(incident.details.get("baseline")),
            deploy=content.incident_deploy(incident),
        )
    return context


def _rate(value: float | None) -> str | None:
    return None if value is None else format_value(Metric.CONFLICT_RATE, value)


def _with_forensics(context: dict, rule: AlertRule, at: datetime) -> dict:
    if rule.metric == Metric.SILENCE_MIN:
        return context  # no requests to explain: the body says when the last record came
    context["causes"] = forensics.top_causes(rule, at)
    context["offenders"] = forensics.offenders(rule, at)
    context["resources"] = forensics.resources(rule, at)
    return context


def _message(name: str, notification: Notification, context: dict) -> EmailMultiAlternatives:
    subject = header_text(render_to_string(f"alerts/{name}_subject.txt", context))
    text = render_to_string(f"alerts/{name}_body.txt", context)
    html = render_to_string(f"alerts/{name}_body.html", context)
    host = urlsplit(settings.CONFLICTWATCH_BASE_URL).hostname or "conflictwatch.invalid"
    headers = {
        "Auto-Submitted": "auto-generated",
        # A stable id: a mail resent after a crash between SMTP and the database is recognisable
        # as the same message, and the resolved mail threads under the opened one.
        "Message-ID": f"<cw.{notification.id}.{notification.kind}@{host}>",
    }
    if notification.incident_id and notification.kind != Notification.Kind.OPENED:
        opened = notification.incident.notifications.filter(kind=Notification.Kind.OPENED).first()
        if opened is not None:
            headers["In-Reply-To"] = headers["References"] = f"<cw.{opened.id}.opened@{host}>"
    message = AlertMessage(
        subject=subject,
        body=text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=list(notification.recipients),
        headers=headers,
    )
    message.attach_alternative(html, "text/html")
    return message


def rule_fired(notification: Notification) -> EmailMultiAlternatives:
    context = _with_forensics(_context(notification), notification.rule, notification.event_at)
    return _message("rule_fired", notification, context)


def rule_resolved(notification: Notification) -> EmailMultiAlternatives:
    context = _context(notification)
    incident = notification.incident
    context["duration"] = (incident.resolved_at or notification.event_at) - incident.opened_at
    return _message("rule_resolved", notification, context)


def rule_reminder(notification: Notification) -> EmailMultiAlternatives:
    context = _with_forensics(_context(notification), notification.rule, notification.event_at)
    context["duration"] = notification.event_at - notification.incident.opened_at
    return _message("rule_reminder", notification, context)


def rule_test(notification: Notification) -> EmailMultiAlternatives:
    context = _context(notification)
    reading = metrics.measure(notification.rule, notification.event_at)
    context["current_text"] = format_value(notification.rule.metric, reading.value)
    context["requests"] = reading.requests
    return _message("rule_test", notification, context)


MESSAGES = {
    Notification.Kind.OPENED: rule_fired,
    Notification.Kind.RESOLVED: rule_resolved,
    Notification.Kind.REMINDER: rule_reminder,
    Notification.Kind.TEST: rule_test,
}


def send(notification: Notification) -> None:
    """Render and send a notification's mail; raises on any failure (the caller retries)."""
    message = MESSAGES[notification.kind](notification)
    message.connection = get_connection(timeout=settings.ALERTS_SMTP_TIMEOUT)
    message.send()
