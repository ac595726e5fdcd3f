"""The alerts and incidents pages: forms with CSRF, roles, outsiders, delivery state, links."""

import pytest
from django.test import Client

from monitor.alerts.models import AlertRule, Incident
from tests.alerts.conftest import minute, per_minute

FORM = {
    "name": "Checkout conflicts",
    "metric": "conflict_rate",
    "threshold": "0.25",
    "window_minutes": "10",
    "endpoint": "",
    "cause": "",
    "status": "",
    "recipients": "ops@example.com, dev@example.com",
    "cooldown_minutes": "10",
    "reminder_minutes": "",
    "min_requests": "20",
    "enabled": "on",
}


@pytest.fixture
def signed_in(client, alice):
    client.force_login(alice)
    return client


def test_the_overview_links_to_alerts_and_incidents(signed_in):
    page = signed_in.get("/p/shop/").content.decode()
    assert 'href="/p/shop/alerts/"' in page and 'href="/p/shop/incidents/"' in page


def test_the_alerts_page_lists_rules_and_creates_one_from_the_form(signed_in):
    page = signed_in.get("/p/shop/alerts/")
    assert page.status_code == 200
    assert "5xx rate above 5%" in page.content.decode()
    assert "<script>" not in page.content.decode().split("</main>")[0]

    response = signed_in.post("/p/shop/alerts/", FORM)

    assert response.status_code == 302
    rule = AlertRule.objects.get(name="Checkout conflicts")
    assert rule.recipients == ["ops@example.com", "dev@example.com"]
    assert rule.threshold == 0.25 and rule.enabled
    assert "Checkout conflicts" in signed_in.get("/p/shop/alerts/").content.decode()


def test_the_form_shows_what_is_wrong(signed_in):
    response = signed_in.post("/p/shop/alerts/", {**FORM, "threshold": "25", "recipients": "nope"})
    assert response.status_code == 400
    page = response.content.decode()
    assert "fraction above 0 and below 1" in page
    assert "is not a valid email address" in page
    assert not AlertRule.objects.filter(name="Checkout conflicts").exists()


def test_a_post_without_the_csrf_token_is_refused(alice):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    assert client.post("/p/shop/alerts/", FORM).status_code == 403
    assert not AlertRule.objects.filter(name="Checkout conflicts").exists()


def test_editing_disabling_and_deleting_a_rule(signed_in, shop):
    rule = AlertRule.objects.get(project=shop, metric="conflict_rate")
    assert signed_in.get(f"/p/shop/alerts/{rule.id}/").status_code == 200

    edited = signed_in.post(f"/p/shop/alerts/{rule.id}/", {**FORM, "name": "Renamed"})
    assert edited.status_code == 302
    rule.refresh_from_db()
    assert (rule.name, rule.enabled) == ("Renamed", True)
    signed_in.post(f"/p/shop/alerts/{rule.id}/toggle/")
    rule.refresh_from_db()
    assert rule.enabled is False
    signed_in.post(f"/p/shop/alerts/{rule.id}/delete/")
    assert not AlertRule.objects.filter(id=rule.id).exists()


def test_the_test_button_sends_a_test_mail(signed_in, shop, mailbox):
    rule = AlertRule.objects.get(project=shop, metric="conflict_rate")
    rule.recipients = ["ops@example.com"]
    rule.save()

    page = signed_in.post(f"/p/shop/alerts/{rule.id}/test/", follow=True).content.decode()

    assert "Test mail sent to ops@example.com" in page
    assert len(mailbox.messages) == 1


def test_the_incidents_page_shows_history_delivery_and_acknowledges(
    signed_in, post_logs, make_rule, mailbox, evaluate
):
    rule = make_rule(window_minutes=1, name="Spike <b>rule</b>")
    per_minute(post_logs, [(20, 10)])
    evaluate(minute(1))
    incident = Incident.objects.get()

    page = signed_in.get(f"/p/shop/incidents/?rule={rule.id}").content.decode()
    assert f'id="incident-{incident.id}" data-state="firing"' in page
    assert 'data-kind="opened" data-state="sent"' in page
    assert "Spike &lt;b&gt;rule&lt;/b&gt;" in page and "<b>rule</b>" not in page

    signed_in.post(f"/p/shop/incidents/{incident.id}/acknowledge/")
    signed_in.post(f"/p/shop/incidents/{incident.id}/mute/", {"duration": "4h"})
    incident.refresh_from_db()
    assert incident.acknowledged_at is not None and incident.muted_until is not None
    assert "muted until" in signed_in.get("/p/shop/incidents/").content.decode()
    assert (
        signed_in.post(f"/p/shop/incidents/{incident.id}/mute/", {"duration": "1y"}).status_code
        == 302
    )


def test_a_read_only_member_sees_no_forms_and_cannot_post(client, bob, shop):
    client.force_login(bob)
    rule = AlertRule.objects.filter(project=shop).first()
    page = client.get("/p/shop/alerts/").content.decode()
    assert "Create rule" not in page and '<form method="post" action="/p/shop/alerts/' not in page
    assert client.post("/p/shop/alerts/", FORM).status_code == 403
    assert client.post(f"/p/shop/alerts/{rule.id}/toggle/").status_code == 403
    assert client.post(f"/p/shop/alerts/{rule.id}/test/").status_code == 403
    assert client.get("/p/shop/incidents/").status_code == 200


def test_an_outsider_gets_404_on_every_alert_page(client, charlie, shop):
    client.force_login(charlie)
    rule = AlertRule.objects.filter(project=shop).first()
    for url in ("/p/shop/alerts/", f"/p/shop/alerts/{rule.id}/", "/p/shop/incidents/"):
        assert client.get(url).status_code == 404
    assert client.post(f"/p/shop/alerts/{rule.id}/toggle/").status_code == 404
    # Their own project's pages do not reach another project's rule either.
    assert client.get(f"/p/other/alerts/{rule.id}/").status_code == 404


def test_a_number_beyond_the_column_is_a_form_error_not_a_500(signed_in):
    response = signed_in.post("/p/shop/alerts/", {**FORM, "min_requests": "13901871656433"})
    assert response.status_code == 400
    assert "less than or equal to" in response.content.decode()
    assert not AlertRule.objects.filter(name="Checkout conflicts").exists()


def test_a_webhook_channel_is_added_on_the_rule_page_its_secret_shown_once(
    signed_in, make_rule, receivers
):
    rule = make_rule(recipients=[])
    sink = receivers()
    added = signed_in.post(
        f"/p/shop/alerts/{rule.id}/channels/", {"kind": "webhook", "target": sink.url()}
    )
    assert added.status_code == 302
    channel = rule.channels.get()
    first = signed_in.get(f"/p/shop/alerts/{rule.id}/").content.decode()
    assert f'<pre class="body" id="new-secret-value">{channel.secret}</pre>' in first
    assert channel.secret not in signed_in.get(f"/p/shop/alerts/{rule.id}/").content.decode()

    sink.secret = channel.secret
    tested = signed_in.post(f"/p/shop/alerts/{rule.id}/channels/{channel.id}/test/", follow=True)
    assert "Test message delivered to webhook" in tested.content.decode()
    assert [p.signature_ok for p in sink.posts] == [True]
    assert 'data-state="sent" data-via="webhook"' in tested.content.decode()

    refused = signed_in.post(
        f"/p/shop/alerts/{rule.id}/channels/", {"kind": "webhook", "target": "ftp://x"}, follow=True
    )
    assert "expected an http(s) URL" in refused.content.decode()
    signed_in.post(f"/p/shop/alerts/{rule.id}/channels/{channel.id}/delete/")
    assert not rule.channels.exists()


def test_a_failing_channel_test_says_why(signed_in, make_rule, receivers):
    rule = make_rule(recipients=[])
    down = receivers(start=False)
    signed_in.post(f"/p/shop/alerts/{rule.id}/channels/", {"kind": "slack", "target": down.url()})
    channel = rule.channels.get()
    tested = signed_in.post(f"/p/shop/alerts/{rule.id}/channels/{channel.id}/test/", follow=True)
    page = tested.content.decode()
    assert "not delivered (ConnectError" in page and "retried automatically" in page


def test_the_incident_page_shows_values_deploy_and_delivery_log_to_members_only(
    post_logs, make_rule, mailbox, evaluate, client, alice, bob, charlie, shop
):
    from monitor.models import Deploy

    Deploy.objects.create(project=shop, version="v9 <b>", ts=minute(0), url="https://ci/9")
    rule = make_rule(window_minutes=1)
    per_minute(post_logs, [(20, 10)])
    evaluate(minute(1))
    incident = Incident.objects.get()
    url = f"/p/shop/incidents/{incident.id}/"

    client.force_login(alice)
    page = client.get(url).content.decode()
    assert f"Incident #{incident.id}: <bdi>{rule.name}</bdi>" in page
    assert 'id="incident-deploy"' in page and "v9 &lt;b&gt;" in page
    assert 'data-kind="opened" data-state="sent" data-via="email"' in page
    assert "ops@example.com" in page
    assert "Acknowledge" in page
    acked = client.post(
        f"/p/shop/incidents/{incident.id}/acknowledge/", {"next": "incident"}, follow=True
    )
    assert acked.redirect_chain[-1][0] == url

    client.force_login(bob)
    page = client.get(url)
    assert page.status_code == 200 and "Acknowledge</button>" not in page.content.decode()
    client.force_login(charlie)
    assert client.get(url).status_code == 404
    assert client.get("/p/shop/incidents/999999/").status_code == 404


def test_a_right_to_left_override_in_a_rule_name_stays_inside_the_name(
    signed_in, post_logs, make_rule, evaluate
):
    # U+202E reverses what follows it up to the end of its paragraph unless the name is isolated
    # (<bdi> on pages; FSI ... PDI in the plain-text messages): "firing" must not read "gnirif".
    name = "\u202eSpike"
    rule = make_rule(window_minutes=1, name=name)
    per_minute(post_logs, [(20, 10)])
    evaluate(minute(1))
    incident = Incident.objects.get()
    for url in (
        f"/p/shop/incidents/{incident.id}/",
        f"/p/shop/incidents/?rule={rule.id}",
        f"/p/shop/alerts/{rule.id}/",
    ):
        page = signed_in.get(url).content.decode()
        heading = page.split("<h1")[1].split("</h1>")[0]
        assert f"<bdi>{name}</bdi>" in heading, url
    answer = signed_in.post("/p/shop/alerts/", {**FORM, "name": "\u202eNew"}, follow=True)
    assert "Rule “\u2068\u202eNew\u2069” created." in answer.content.decode()
