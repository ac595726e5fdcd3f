"""Mail survives an unreachable SMTP server: stored first, retried with back-off, visible."""

from datetime import timedelta

from django.utils import timezone

from monitor.alerts.delivery import deliver_due
from monitor.alerts.models import Incident, Notification
from tests.alerts.conftest import minute, per_minute


def test_an_unreachable_smtp_server_delays_the_mail_with_back_off_until_it_is_up(
    post_logs, make_rule, smtp_server, evaluate, api, client, alice
):
    client.force_login(alice)
    make_rule(window_minutes=1)
    per_minute(post_logs, [(20, 10)])

    before = timezone.now()
    assert evaluate(minute(1))["opened"] == 1  # nothing listens on the SMTP port yet

    incident = Incident.objects.get()
    n = Notification.objects.get()
    assert (n.kind, n.state, n.attempts) == ("opened", "failed", 1)
    assert "Connection refused" in n.last_error or "ConnectionRefused" in n.last_error
    first_wait = n.next_attempt_at - before
    assert timedelta(seconds=59) < first_wait < timedelta(seconds=75)

    # The incident shows the delivery state, in the API and on the page.
    shown = api.get(f"/api/v1/projects/shop/incidents/{incident.id}/").json()
    assert shown["notifications"][0]["state"] == "failed"
    assert shown["notifications"][0]["attempts"] == 1
    assert shown["notifications"][0]["next_attempt_at"] is not None
    page = client.get("/p/shop/incidents/").content.decode()
    assert 'data-kind="opened" data-state="failed"' in page
    assert "Connection refused" in page or "ConnectionRefused" in page

    # Not due yet: nothing is tried.
    assert deliver_due(before + timedelta(seconds=30)) == 0
    assert Notification.objects.get().attempts == 1

    # Due: tried again, fails again, and waits twice as long.
    second_try = n.next_attempt_at + timedelta(seconds=1)
    assert deliver_due(second_try) == 0
    n.refresh_from_db()
    assert (n.state, n.attempts) == ("failed", 2)
    assert n.next_attempt_at - second_try == timedelta(seconds=120)

    # The server comes up; the next due attempt delivers it, once.
    mailbox = smtp_server.start()
    third_try = n.next_attempt_at + timedelta(seconds=1)
    assert deliver_due(third_try) == 1
    assert deliver_due(third_try + timedelta(hours=1)) == 0
    n.refresh_from_db()
    assert (n.state, n.attempts, n.next_attempt_at, n.last_error) == ("sent", 3, None, "")
    assert [s.split(":")[0] for s in mailbox.subjects()] == ["[Shop API] Firing"]


def test_it_gives_up_after_the_last_attempt_and_says_so(
    post_logs, make_rule, smtp_server, evaluate, settings, client, alice
):
    client.force_login(alice)
    settings.ALERTS_MAX_ATTEMPTS = 2
    make_rule(window_minutes=1)
    per_minute(post_logs, [(20, 10)])
    evaluate(minute(1))
    n = Notification.objects.get()
    deliver_due(n.next_attempt_at)

    n.refresh_from_db()
    assert (n.state, n.attempts, n.next_attempt_at) == ("failed", 2, None)
    assert deliver_due(timezone.now() + timedelta(days=1)) == 0
    assert "failed, gave up" in client.get("/p/shop/incidents/").content.decode()


def test_a_notification_being_sent_is_not_sent_twice(post_logs, make_rule, smtp_server, evaluate):
    from monitor.alerts.delivery import deliver

    make_rule(window_minutes=1)
    per_minute(post_logs, [(20, 10)])
    evaluate(minute(1))  # fails: no server yet
    mailbox = smtp_server.start()
    n = Notification.objects.get()
    due = n.next_attempt_at

    assert deliver(n.id, due) is True
    assert deliver(n.id, due) is False
    assert deliver_due(due + timedelta(days=1)) == 0
    assert len(mailbox.messages) == 1
