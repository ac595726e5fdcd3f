"""Incidents open, stay quiet, remind and resolve: real ingest, real rollups, real SMTP."""

from monitor.alerts.models import Incident, Notification
from tests.alerts.conftest import minute, per_minute

QUIET = (20, 1)  # 5% conflicts
SPIKE = (20, 10)  # 50% conflicts


def test_a_conflict_spike_sends_one_firing_mail_and_its_end_one_resolved_mail(
    post_logs, make_rule, mailbox, evaluate
):
    rule = make_rule(window_minutes=5)
    per_minute(post_logs, [QUIET] * 10 + [SPIKE] * 10 + [QUIET] * 20)

    outcomes = [evaluate(minute(m)) for m in range(5, 41)]

    assert mailbox.subjects() == [
        "[Shop API] Firing: Conflict rate above 20% - conflict rate 23.0% > 20.0% (all endpoints)",
        "[Shop API] Resolved: Conflict rate above 20% - conflict rate 14.0% (all endpoints)",
    ]
    assert sum(o.get("opened", 0) for o in outcomes) == 1
    assert sum(o.get("resolved", 0) for o in outcomes) == 1
    incident = Incident.objects.get(rule=rule)
    assert incident.state == "resolved"
    # Opened on the first window above 20% (minutes 10-14 hold 2 spike minutes of 5), resolved on
    # the first below 16% (threshold × 0.8).
    assert incident.opened_at == minute(12)
    assert incident.peak_value == 0.5
    assert incident.resolved_at == minute(24)
    assert [(n.kind, n.state) for n in incident.notifications.all()] == [
        ("opened", "sent"),
        ("resolved", "sent"),
    ]
    assert mailbox.envelopes[0].rcpt_tos == ["ops@example.com"]


def test_a_value_hovering_at_the_threshold_sends_no_storm(post_logs, make_rule, mailbox, evaluate):
    make_rule(window_minutes=1, cooldown_minutes=10)
    # Per-minute conflict rates around 20%: above, just below, above … (all above 16%).
    hovering = [(100, c) for c in (25, 18, 24, 17, 22, 19, 23, 18, 21, 17, 26, 19)]
    then_clear = [(100, 2)] * 3
    # Back above within the cooldown after resolving, then again after it.
    again = [(100, 30)] * 3 + [(100, 2)] * 2 + [(100, 30)] * 8
    per_minute(post_logs, hovering + then_clear + again)

    states = []
    for m in range(1, len(hovering + then_clear + again) + 1):
        evaluate(minute(m))
        states.append(Incident.objects.filter(state="firing").exists())

    # One incident through the whole hovering stretch, no mail in between.
    assert states[: len(hovering)] == [True] * len(hovering)
    assert [s.split(":")[0] for s in mailbox.subjects()] == [
        "[Shop API] Firing",
        "[Shop API] Resolved",
        "[Shop API] Firing",
    ]
    first, second = Incident.objects.order_by("opened_at")
    # The second opens only once the cooldown after the first has passed.
    assert (second.opened_at - first.resolved_at).total_seconds() >= 10 * 60


def test_it_reminds_an_unacknowledged_incident_and_stops_once_acknowledged(
    post_logs, make_rule, mailbox, evaluate, alice
):
    rule = make_rule(window_minutes=2, reminder_minutes=5)
    per_minute(post_logs, [SPIKE] * 20)

    for m in range(2, 13):
        evaluate(minute(m))
    assert [s.split(":")[0] for s in mailbox.subjects()] == [
        "[Shop API] Firing",
        "[Shop API] Still firing",
        "[Shop API] Still firing",
    ]
    incident = Incident.objects.get(rule=rule)
    assert incident.reminders == 2

    from monitor.alerts.actions import acknowledge

    acknowledge(incident, alice)
    for m in range(13, 21):
        evaluate(minute(m))
    assert len(mailbox.messages) == 3


def test_an_evaluation_of_a_minute_already_evaluated_does_nothing(
    post_logs, make_rule, mailbox, evaluate
):
    make_rule()
    per_minute(post_logs, [SPIKE] * 6)

    assert evaluate(minute(6))["opened"] == 1
    assert evaluate(minute(6)) == {"skipped": 1}
    assert evaluate(minute(5)) == {"skipped": 1}
    assert Incident.objects.count() == 1
    assert Notification.objects.count() == 1
    assert len(mailbox.messages) == 1


def test_too_little_traffic_gives_no_verdict(post_logs, make_rule, mailbox, evaluate):
    rule = make_rule(min_requests=20)
    per_minute(post_logs, [(3, 2)] * 5)  # 66% conflicts, 15 requests in the window

    assert evaluate(minute(5)) == {"quiet": 1, "evaluated": 1}
    rule.refresh_from_db()
    assert rule.last_value is None
    assert mailbox.messages == []


def test_a_rule_without_recipients_opens_incidents_without_mail(
    post_logs, make_rule, mailbox, evaluate
):
    make_rule(recipients=[])
    per_minute(post_logs, [SPIKE] * 6)

    assert evaluate(minute(6))["opened"] == 1
    assert Notification.objects.count() == 0
    assert mailbox.messages == []


def test_muting_an_incident_silences_its_resolved_mail(post_logs, make_rule, mailbox, evaluate):
    from datetime import timedelta

    from django.utils import timezone

    from monitor.alerts.actions import mute

    rule = make_rule(window_minutes=1)
    per_minute(post_logs, [SPIKE] * 2 + [QUIET] * 2)
    evaluate(minute(1))
    mute(Incident.objects.get(rule=rule), timezone.now() + timedelta(days=1))
    evaluate(minute(3))

    assert Incident.objects.get(rule=rule).state == "resolved"
    assert [s.split(":")[0] for s in mailbox.subjects()] == ["[Shop API] Firing"]
