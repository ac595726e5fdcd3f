"""The alert pages in real headless Chromium: no console errors (the strict CSP holds), forms
with CSRF work, the test button mails, an incident is acknowledged from the page."""

import pytest

from monitor.alerts.evaluate import evaluate_rules
from monitor.alerts.models import AlertRule, Incident
from tests.alerts.conftest import minute, records_for

pytestmark = pytest.mark.e2e


@pytest.fixture(autouse=True)
def _committed_data(transactional_db):
    """The live server thread must see the test's data: use real commits."""


def test_on_call_creates_a_rule_tests_it_and_acknowledges_its_incident(
    watched,
    sign_in,
    ship,
    alice,
    live_server,
    mailbox,
):
    ship(records_for(minute(0), 20, 10, tag="browser", path="/v1/<i>orders</i>/1"))
    page = watched.page
    sign_in(watched, "alice", "pw-alice")
    page.click("text=Shop API")
    page.click("#alert-links >> text=Alert rules")
    page.wait_for_selector("#rules")

    page.fill("#id_name", "Checkout conflicts")
    page.select_option("#id_metric", "conflict_rate")
    page.fill("#id_threshold", "0.2")
    page.fill("#id_window_minutes", "1")
    page.fill("#id_recipients", "ops@example.com")
    page.fill("#id_min_requests", "10")
    page.click("#new-rule button[type=submit]")
    page.wait_for_selector("#messages >> text=created")
    watched.shot("alerts-01-rules")
    rule = AlertRule.objects.get(name="Checkout conflicts")

    page.click(f"#rule-{rule.id} a")
    page.click("#send-test")
    page.wait_for_selector("#messages >> text=Test mail sent to ops@example.com")
    assert [str(m["Subject"]) for m in mailbox.messages] == ["[Shop API] Test: Checkout conflicts"]

    evaluate_rules(minute(1))
    incident = Incident.objects.get(rule=rule)
    page.goto(live_server.url + f"/p/shop/incidents/?rule={rule.id}")
    page.wait_for_selector(f"#incident-{incident.id}[data-state=firing]")
    assert (
        page.locator(f"#incident-{incident.id} [data-kind=opened]").get_attribute("data-state")
        == "sent"
    )
    watched.shot("alerts-02-incidents")
    page.click(f"#incident-{incident.id} >> text=Acknowledge")
    page.wait_for_selector("#messages >> text=acknowledged")
    incident.refresh_from_db()
    assert incident.acknowledged_by == alice
    assert len(mailbox.messages) == 2


def test_on_call_adds_a_webhook_sees_its_secret_once_and_sends_a_test(
    watched, sign_in, alice, live_server, make_rule, receivers
):
    rule = make_rule(recipients=[])
    sink = receivers()
    page = watched.page
    sign_in(watched, "alice", "pw-alice")
    page.goto(live_server.url + f"/p/shop/alerts/{rule.id}/")
    page.select_option("#channel-kind", "webhook")
    page.fill("#channel-target", sink.url("/cw"))
    page.click("#add-channel button[type=submit]")
    page.wait_for_selector("#new-secret-value")
    sink.secret = page.inner_text("#new-secret-value").strip()
    assert len(sink.secret) == 64
    watched.shot("alerts-03-channel-added")

    page.click(".send-channel-test")
    page.wait_for_selector("#messages >> text=Test message delivered")
    assert [(p.path, p.signature_ok, p.json["event"]) for p in sink.posts] == [
        ("/cw", True, "test")
    ]
    # Shown once: the page after the test no longer holds the secret.
    assert sink.secret not in page.content()
