"""Webhook channels against real local receivers: signed JSON, exactly one firing and one
resolved POST, retries while the receiver is down, the delivery log on the incident page,
nothing sent to a host nobody configured, hostile log text intact and harmless in the JSON."""

import json
from datetime import timedelta

import pytest

from monitor.alerts.delivery import deliver_due
from monitor.alerts.models import Channel, Incident, Notification
from tests.alerts.conftest import minute, per_minute, records_for

QUIET = (20, 1)
SPIKE = (20, 10)
HOSTILE_PATH = '/v1/orders/1"}],"x":"<script>alert(1)</script>\u2028\\'
HOSTILE_CLIENT = "<!channel> & <@U123|boss> `rm -rf`"


def _channel(api, rule, receiver, kind="webhook", path="/hook") -> dict:
    answer = api.post(
        f"/api/v1/projects/shop/rules/{rule.id}/channels/",
        {"kind": kind, "target": receiver.url(path)},
        content_type="application/json",
    )
    assert answer.status_code == 201, answer.content
    return answer.json()


def test_a_signed_webhook_gets_exactly_one_firing_and_one_resolved_post(
    post_logs, make_rule, receivers, evaluate, api
):
    rule = make_rule(window_minutes=5, recipients=[])
    sink = receivers()
    channel = _channel(api, rule, sink)
    # The secret is in the answer that made the channel, and never again.
    sink.secret = channel["secret"]
    assert len(sink.secret) == 64
    listed = api.get(f"/api/v1/projects/shop/rules/{rule.id}/channels/").json()
    assert "secret" not in listed[0]
    assert "secret" not in api.get(f"/api/v1/projects/shop/rules/{rule.id}/").json()["channels"][0]

    per_minute(post_logs, [QUIET] * 10 + [SPIKE] * 10 + [QUIET] * 20)
    for m in range(5, 41):
        evaluate(minute(m))

    assert sink.events() == ["opened", "resolved"]
    assert [p.signature_ok for p in sink.posts] == [True, True]
    incident = Incident.objects.get(rule=rule)
    fired, resolved = (p.json for p in sink.posts)
    assert fired["incident"]["id"] == incident.id
    assert fired["incident"]["state"] == "firing"
    assert fired["incident"]["value"] == 0.23
    assert fired["rule"] == {
        "id": rule.id,
        "name": "Conflict rate above 20%",
        "metric": "conflict_rate",
        "metric_name": "conflict rate",
        "threshold": 0.2,
        "threshold_text": "20.0%",
        "window_minutes": 5,
        "scope": "all endpoints",
    }
    assert fired["summary"] == (
        "Firing: Conflict rate above 20% - conflict rate 23.0% > 20.0% (all endpoints)"
    )
    assert fired["causes"] == [{"cause": "stale_version", "conflicts": 23}]
    assert fired["clients"][0]["client"] == "acme-mobile"
    assert fired["links"]["incident"] == f"https://cw.example.com/p/shop/incidents/{incident.id}/"
    assert resolved["incident"]["state"] == "resolved"
    assert resolved["incident"]["resolved_at"] is not None
    headers = sink.posts[0].headers
    assert headers["content-type"] == "application/json"
    assert headers["x-conflictwatch-event"] == "opened"
    assert [n.state for n in incident.notifications.all()] == ["sent", "sent"]


def test_a_receiver_that_is_down_is_retried_and_the_incident_page_shows_the_delivery(
    post_logs, make_rule, receivers, evaluate, api, client, alice
):
    client.force_login(alice)
    rule = make_rule(window_minutes=1, recipients=[])
    sink = receivers(start=False)  # its port is chosen; nothing listens there yet
    sink.secret = _channel(api, rule, sink)["secret"]
    per_minute(post_logs, [SPIKE])

    assert evaluate(minute(1))["opened"] == 1
    incident = Incident.objects.get()
    n = Notification.objects.get()
    assert (n.via, n.state, n.attempts) == ("webhook", "failed", 1)
    assert "ConnectError" in n.last_error
    page = client.get(f"/p/shop/incidents/{incident.id}/").content.decode()
    assert f'id="delivery-{n.id}" data-kind="opened" data-state="failed" data-via="webhook"' in page
    assert "ConnectError" in page
    shown = api.get(f"/api/v1/projects/shop/incidents/{incident.id}/").json()
    assert shown["notifications"][0]["via"] == "webhook"
    assert shown["notifications"][0]["state"] == "failed"

    # Still down at the next attempt: failed again, and the wait doubles.
    second = n.next_attempt_at + timedelta(seconds=1)
    assert deliver_due(second) == 0
    n.refresh_from_db()
    assert n.attempts == 2
    assert n.next_attempt_at - second == timedelta(seconds=120)

    sink.start()
    assert deliver_due(n.next_attempt_at + timedelta(seconds=1)) == 1
    assert deliver_due(n.next_attempt_at + timedelta(hours=1)) == 0
    n.refresh_from_db()
    assert (n.state, n.attempts, n.last_error) == ("sent", 3, "")
    assert sink.events() == ["opened"]
    assert sink.posts[0].signature_ok is True
    page = client.get(f"/p/shop/incidents/{incident.id}/").content.decode()
    assert f'id="delivery-{n.id}" data-kind="opened" data-state="sent"' in page


def test_a_receiver_answering_500_is_retried_and_its_answer_logged_escaped(
    post_logs, make_rule, receivers, evaluate, api, client, alice
):
    client.force_login(alice)
    rule = make_rule(window_minutes=1, recipients=[])
    sink = receivers(status=500)
    _channel(api, rule, sink)
    per_minute(post_logs, [SPIKE])
    evaluate(minute(1))

    n = Notification.objects.get()
    assert (n.state, n.attempts) == ("failed", 1)
    assert n.next_attempt_at is not None  # retried
    assert n.last_error.startswith("ReceiverError: HTTP 500: receiver says no <b>")
    assert len(n.last_error) < 300 and "\r" not in n.last_error
    page = client.get(f"/p/shop/incidents/{n.incident_id}/").content.decode()
    assert "receiver says no &lt;b&gt;" in page and "no <b>" not in page


def test_a_redirect_is_not_followed_to_another_host(post_logs, make_rule, receivers, evaluate, api):
    rule = make_rule(window_minutes=1, recipients=[])
    elsewhere = receivers()
    sink = receivers(status=307, answer_headers={"Location": elsewhere.url("/steal")})
    _channel(api, rule, sink)
    per_minute(post_logs, [SPIKE])
    evaluate(minute(1))

    assert len(sink.posts) == 1
    assert elsewhere.requests == []
    n = Notification.objects.get()
    # A redirect will not change by retrying: given up at once, with the reason.
    assert n.gave_up
    assert "redirect" in n.last_error and "not followed" in n.last_error


def test_a_receiver_refusing_the_message_gives_up_at_once(
    post_logs, make_rule, receivers, evaluate, api
):
    rule = make_rule(window_minutes=1, recipients=[])
    sink = receivers(status=410)
    _channel(api, rule, sink)
    per_minute(post_logs, [SPIKE])
    evaluate(minute(1))

    n = Notification.objects.get()
    assert n.gave_up and n.attempts == 1
    assert "HTTP 410" in n.last_error


def test_hostile_paths_and_clients_arrive_intact_in_valid_json(
    post_logs, make_rule, receivers, evaluate, api, shop
):
    records = records_for(minute(0), 20, 10, tag="evil", path=HOSTILE_PATH, client=HOSTILE_CLIENT)
    assert post_logs(records).json()["accepted"] == 20
    rule = make_rule(window_minutes=1, recipients=[], name='Evil "rule"\\ <b>')
    sink = receivers()
    sink.secret = _channel(api, rule, sink)["secret"]
    evaluate(minute(1))

    [post] = sink.posts
    assert post.signature_ok is True
    # Plain ASCII JSON: nothing from the logs can end a string or a line of it.
    assert post.body.isascii() and b"\n" not in post.body
    data = json.loads(post.body)
    assert data["clients"][0]["client"] == HOSTILE_CLIENT
    assert data["resources"][0]["resource"].startswith('/v1/orders/1"}],"x":"<script>')
    assert data["rule"]["name"] == 'Evil "rule"\\ <b>'


def test_a_channel_test_reaches_the_receiver_and_says_so(make_rule, receivers, api):
    rule = make_rule(recipients=[])
    sink = receivers()
    channel = _channel(api, rule, sink)
    sink.secret = channel["secret"]

    answer = api.post(f"/api/v1/projects/shop/rules/{rule.id}/channels/{channel['id']}/test/")

    assert answer.status_code == 200, answer.content
    assert answer.json()["notification"]["state"] == "sent"
    assert answer.json()["notification"]["via"] == "webhook"
    [post] = sink.posts
    assert post.signature_ok is True
    assert post.json["event"] == "test"
    assert post.json["incident"] is None
    assert post.json["links"]["rule"] == f"https://cw.example.com/p/shop/alerts/{rule.id}/"


def test_channels_are_set_with_the_rule_and_keep_their_secret(api, receivers):
    sink = receivers()
    body = {
        "name": "Checkout conflicts",
        "metric": "conflict_rate",
        "threshold": 0.2,
        "channels": [
            {"kind": "email", "target": "ops@example.com"},
            {"kind": "webhook", "target": sink.url("/a")},
            {"kind": "slack", "target": sink.url("/b")},
        ],
    }
    created = api.post("/api/v1/projects/shop/rules/", body, content_type="application/json")
    assert created.status_code == 201, created.content
    rule = created.json()
    assert rule["recipients"] == ["ops@example.com"]
    email, *hooks = rule["channels"]
    assert email == {"kind": "email", "target": "ops@example.com"}
    webhook, slack = sorted(hooks, key=lambda c: c["kind"] != "webhook")
    assert webhook["target"] == sink.url("/a") and slack["target"] == sink.url("/b")
    assert len(webhook["secret"]) == 64 and "secret" not in slack

    # Keeping the webhook and dropping Slack keeps the webhook's id and secret.
    body["channels"] = body["channels"][:2]
    updated = api.put(
        f"/api/v1/projects/shop/rules/{rule['id']}/", body, content_type="application/json"
    )
    assert updated.status_code == 200, updated.content
    [_, kept] = updated.json()["channels"]
    assert kept["id"] == webhook["id"] and "secret" not in kept

    both = {**body, "recipients": ["x@example.com"]}
    refused = api.put(
        f"/api/v1/projects/shop/rules/{rule['id']}/", both, content_type="application/json"
    )
    assert refused.status_code == 400
    assert "not both" in json.dumps(refused.json())


def test_a_channel_url_must_be_http(api, make_rule):
    rule = make_rule()
    for target in ["file:///etc/passwd", "gopher://127.0.0.1:6379/_INFO", "not a url", ""]:
        answer = api.post(
            f"/api/v1/projects/shop/rules/{rule.id}/channels/",
            {"kind": "webhook", "target": target},
            content_type="application/json",
        )
        assert answer.status_code == 400, target
        assert "target" in json.dumps(answer.json())


def test_a_read_only_member_cannot_add_channels_and_an_outsider_sees_nothing(
    client, make_rule, bob, charlie, receivers
):
    from rest_framework.authtoken.models import Token

    rule = make_rule()
    url = f"/api/v1/projects/shop/rules/{rule.id}/channels/"
    body = {"kind": "webhook", "target": receivers().url()}
    client.defaults["HTTP_AUTHORIZATION"] = f"Token {Token.objects.create(user=bob).key}"
    assert client.get(url).status_code == 200
    assert client.post(url, body, content_type="application/json").status_code == 403
    client.defaults["HTTP_AUTHORIZATION"] = f"Token {Token.objects.create(user=charlie).key}"
    assert client.get(url).status_code == 404
    assert client.post(url, body, content_type="application/json").status_code == 404


def test_a_read_only_member_sees_channel_urls_without_their_secret_part(
    client, make_rule, bob, api, receivers
):
    from rest_framework.authtoken.models import Token

    rule = make_rule()
    _channel(api, rule, receivers(), kind="slack", path="/services/T000/B000/XXXXSECRET")
    mine = api.get(f"/api/v1/projects/shop/rules/{rule.id}/channels/").json()
    assert mine[0]["target"].endswith("/services/T000/B000/XXXXSECRET")

    client.defaults["HTTP_AUTHORIZATION"] = f"Token {Token.objects.create(user=bob).key}"
    listed = client.get(f"/api/v1/projects/shop/rules/{rule.id}/channels/").json()
    shown = client.get(f"/api/v1/projects/shop/rules/{rule.id}/").json()["channels"]
    assert listed[0]["target"].endswith("/services/…")
    assert shown[-1]["target"] == listed[0]["target"]
    client.defaults.pop("HTTP_AUTHORIZATION")
    client.force_login(bob)
    page = client.get(f"/p/shop/alerts/{rule.id}/").content.decode()
    assert "XXXXSECRET" not in page and "/services/…" in page


@pytest.mark.parametrize(
    "target",
    [
        "http://127.0.0.1:6379/",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.1.2.3/hook",
        "http://192.168.0.1/hook",
        "http://[::1]:8080/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://0.0.0.0:8000/hook",
        "http://localhost:8000/hook",
        "http://LOCALHOST:8000/hook",
    ],
)
def test_a_channel_to_a_loopback_private_or_metadata_address_is_refused(
    api, make_rule, settings, target
):
    # Any signed-in user can make a project and be its admin: its channels must not reach the
    # server's own network.
    settings.ALERTS_WEBHOOK_ALLOWED_NETWORKS = []
    rule = make_rule()
    answer = api.post(
        f"/api/v1/projects/shop/rules/{rule.id}/channels/",
        {"kind": "webhook", "target": target},
        content_type="application/json",
    )
    assert answer.status_code == 400, target
    assert "public addresses only" in json.dumps(answer.json())
    assert not rule.channels.exists()


def test_nothing_is_sent_to_an_address_no_longer_allowed_or_a_name_resolving_to_one(
    make_rule, receivers, api, settings
):
    rule = make_rule(recipients=[])
    sink = receivers()
    by_address = _channel(api, rule, sink)
    settings.ALERTS_WEBHOOK_ALLOWED_NETWORKS = []

    answer = api.post(f"/api/v1/projects/shop/rules/{rule.id}/channels/{by_address['id']}/test/")

    notification = answer.json()["notification"]
    assert notification["state"] == "failed" and notification["next_attempt_at"] is None
    assert "127.0.0.1 is a loopback address" in notification["last_error"]
    # A name is looked up when a message is sent, and every address it gives is checked.
    by_name = Channel.objects.create(
        rule=rule, kind="webhook", target=f"http://localhost:{sink.port}/"
    )
    notification = api.post(
        f"/api/v1/projects/shop/rules/{rule.id}/channels/{by_name.id}/test/"
    ).json()["notification"]
    assert "localhost resolves to" in notification["last_error"]
    assert "public addresses only" in notification["last_error"]
    assert sink.posts == []


def test_an_allowed_network_is_reached_by_address_with_the_urls_host(
    make_rule, receivers, api, settings
):
    rule = make_rule(recipients=[])
    sink = receivers()
    settings.ALERTS_WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.0/8", "::1/128"]
    channel = Channel.objects.create(rule=rule, kind="webhook", target=sink.url())
    answer = api.post(f"/api/v1/projects/shop/rules/{rule.id}/channels/{channel.id}/test/")
    assert answer.json()["notification"]["state"] == "sent"
    [post] = sink.posts
    assert post.headers["host"] == f"127.0.0.1:{sink.port}"
