"""manage.py evaluate_alerts [--at RFC3339], the beat schedule, and the default rules."""

import pytest
from django.core.management import CommandError, call_command

from monitor.alerts.models import AlertRule, Incident
from monitor.models import Project
from monitor.schedule import PERIODIC
from tests.alerts.conftest import iso, minute, per_minute


def test_evaluate_alerts_evaluates_as_of_the_given_instant(
    post_logs, make_rule, mailbox, capsys, django_capture_on_commit_callbacks
):
    make_rule(window_minutes=1)
    per_minute(post_logs, [(20, 10)])

    with django_capture_on_commit_callbacks(execute=True):
        call_command("evaluate_alerts", "--at", iso(minute(1)))

    assert capsys.readouterr().out.strip() == "evaluated 1, opened 1"
    assert Incident.objects.get().opened_at == minute(1)
    assert len(mailbox.messages) == 1


def test_evaluate_alerts_names_a_bad_instant(db):
    with pytest.raises(CommandError, match="--at: expected an RFC 3339 time"):
        call_command("evaluate_alerts", "--at", "yesterday-ish")


def test_evaluate_alerts_without_enabled_rules_says_so(db, capsys):
    call_command("evaluate_alerts")
    assert capsys.readouterr().out.strip() == "no enabled rules"


def test_beat_evaluates_every_minute_and_retries_mail():
    assert PERIODIC["monitor.alerts.tasks.evaluate_alert_rules"] == 60.0
    assert PERIODIC["monitor.alerts.tasks.deliver_due_notifications"] <= 60.0
    from celery import current_app

    import monitor.tasks  # noqa: F401 - as the worker and the embedded runner do

    for name in PERIODIC:
        assert name in current_app.tasks


def test_every_new_project_gets_the_default_rules_disabled(db):
    project = Project.objects.create(slug="new", name="New")
    rules = AlertRule.objects.filter(project=project)
    assert sorted(r.metric for r in rules) == ["anomaly", "conflict_rate", "p95_ms", "status_rate"]
    assert not any(r.enabled or r.recipients for r in rules)
    for rule in rules:
        rule.full_clean()  # the defaults pass the same validation as anyone's rules
    project.name = "Renamed"
    project.save()
    assert AlertRule.objects.filter(project=project).count() == 4
