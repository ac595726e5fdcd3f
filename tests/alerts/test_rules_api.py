"""rules/ and rules/{id}/: read-write for members, read-only for read-only members, 404 outside."""

import pytest
from rest_framework.authtoken.models import Token

from monitor.alerts.models import AlertRule
from monitor.models import Project

RULES = "/api/v1/projects/shop/rules/"
NEW = {
    "name": "Checkout conflicts",
    "metric": "conflict_rate",
    "threshold": 0.2,
    "window_minutes": 10,
    "recipients": ["ops@example.com", "OPS@example.com", "dev@example.com"],
}


def as_user(client, user):
    client.defaults["HTTP_AUTHORIZATION"] = f"Token {Token.objects.create(user=user).key}"
    return client


def test_a_new_project_offers_the_default_rules_disabled_and_without_recipients(api):
    rules = api.get(RULES).json()
    assert [r["metric"] for r in rules] == ["status_rate", "anomaly", "conflict_rate", "p95_ms"]
    assert all(r["enabled"] is False and r["recipients"] == [] for r in rules)
    by_metric = {r["metric"]: r for r in rules}
    assert by_metric["conflict_rate"]["threshold"] == 0.2
    assert by_metric["conflict_rate"]["window_minutes"] == 10
    assert (by_metric["status_rate"]["status"], by_metric["status_rate"]["threshold"]) == (
        "5xx",
        0.05,
    )
    assert by_metric["p95_ms"]["threshold"] == 1000


def test_it_creates_reads_updates_and_deletes_a_rule(api):
    created = api.post(RULES, NEW, content_type="application/json")
    assert created.status_code == 201, created.content
    body = created.json()
    # Addresses that differ only in case are one recipient.
    assert body["recipients"] == ["ops@example.com", "dev@example.com"]
    assert body["enabled"] is True and body["endpoint"] is None and body["cooldown_minutes"] == 10
    url = f"{RULES}{body['id']}/"

    assert api.get(url).json()["name"] == "Checkout conflicts"
    patched = api.patch(url, {"enabled": False, "threshold": 0.3}, content_type="application/json")
    assert patched.status_code == 200
    assert (patched.json()["enabled"], patched.json()["threshold"]) == (False, 0.3)
    assert api.delete(url).status_code == 204
    assert api.get(url).status_code == 404


def test_a_rule_can_watch_one_endpoint_of_its_project(api, post_logs):
    from tests.records import record

    post_logs([record(1, method="PUT", status=409)])
    endpoint = api.get("/api/v1/projects/shop/endpoints/").json()[0]["id"]
    response = api.post(
        RULES,
        {**NEW, "endpoint": endpoint, "cause": "duplicate", "status": "409"},
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    assert response.json()["endpoint"] == endpoint


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"threshold": 20}, "threshold", "fraction"),
        ({"metric": "anomaly", "threshold": 0.5}, "threshold", "factor"),
        ({"metric": "p95_ms", "threshold": -1}, "threshold", "above 0"),
        ({"metric": "status_rate", "threshold": 0.05}, "status", "5xx"),
        ({"status": "6xx"}, "status", "409"),
        ({"metric": "p95_ms", "threshold": 500, "cause": "lock"}, "cause", "p95_ms"),
        ({"metric": "bogus"}, "metric", "valid choice"),
        ({"cause": "bogus"}, "cause", "valid choice"),
        ({"window_minutes": 0}, "window_minutes", "greater than or equal to 1"),
        # Beyond the integer column: once a 500 (found by schemathesis).
        ({"min_requests": 13901871656433}, "min_requests", "less than or equal to"),
        ({"recipients": ["not-an-address"]}, "recipients", "valid email"),
        ({"recipients": "ops@example.com"}, "recipients", "list"),
        ({"name": "Evil\r\nBcc: x@example.com"}, "name", "line breaks"),
        ({"name": "   "}, "name", "blank"),
        ({"endpoint": 999999}, "endpoint", "does not exist"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(api, change, field, words):
    response = api.post(RULES, {**NEW, **change}, content_type="application/json")
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error.startswith(f"{field}: ") and words in error
    assert not AlertRule.objects.filter(name__startswith="Checkout").exists()


def test_an_endpoint_of_another_project_is_refused(api, charlie):
    from monitor.models import Endpoint

    other = Endpoint.objects.create(
        project=Project.objects.get(slug="other"), method="GET", route="/x"
    )
    response = api.post(RULES, {**NEW, "endpoint": other.id}, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"].startswith("endpoint: ")


def test_a_read_only_member_reads_rules_but_cannot_change_them(client, bob, shop):
    as_user(client, bob)
    rule = AlertRule.objects.filter(project=shop).first()
    assert client.get(RULES).status_code == 200
    assert client.post(RULES, NEW, content_type="application/json").status_code == 403
    url = f"{RULES}{rule.id}/"
    assert client.patch(url, {"enabled": True}, content_type="application/json").status_code == 403
    assert client.delete(url).status_code == 403
    assert client.post(f"{url}test/").status_code == 403
    assert AlertRule.objects.filter(project=shop).count() == 4


def test_another_projects_rules_are_404_for_an_outsider(client, charlie, shop):
    as_user(client, charlie)
    rule = AlertRule.objects.filter(project=shop).first()
    assert client.get(RULES).status_code == 404
    assert client.post(RULES, NEW, content_type="application/json").status_code == 404
    assert client.get(f"{RULES}{rule.id}/").status_code == 404


def test_a_rule_id_of_another_project_is_404(api, charlie):
    foreign = AlertRule.objects.filter(project__slug="other").first()
    assert api.get(f"{RULES}{foreign.id}/").status_code == 404
    assert (
        api.patch(
            f"{RULES}{foreign.id}/", {"enabled": True}, content_type="application/json"
        ).status_code
        == 404
    )
    assert api.post(f"{RULES}{foreign.id}/test/").status_code == 404


def test_the_test_action_sends_a_test_mail_and_reports_its_delivery(api, shop, mailbox):
    rule = AlertRule.objects.filter(project=shop, metric="conflict_rate").first()
    assert api.post(f"{RULES}{rule.id}/test/").json() == {
        "error": "recipients: the rule has no recipients to send a test to"
    }
    api.patch(
        f"{RULES}{rule.id}/", {"recipients": ["ops@example.com"]}, content_type="application/json"
    )

    response = api.post(f"{RULES}{rule.id}/test/")

    assert response.status_code == 200
    assert response.json()["notification"]["state"] == "sent"
    assert response.json()["notification"]["kind"] == "test"
    assert [str(m["Subject"]) for m in mailbox.messages] == [
        "[Shop API] Test: Conflict rate above 20%"
    ]


def test_the_test_action_reports_a_failed_delivery_that_will_be_retried(api, shop, smtp_server):
    rule = AlertRule.objects.filter(project=shop, metric="conflict_rate").first()
    rule.recipients = ["ops@example.com"]
    rule.save()

    notification = api.post(f"{RULES}{rule.id}/test/").json()["notification"]

    assert notification["state"] == "failed"
    assert "Connection refused" in notification["last_error"]
    assert notification["next_attempt_at"] is not None


def test_the_rules_are_described_in_the_openapi_schema(api):
    schema = api.get("/api/v1/schema/?format=json")
    assert schema.status_code == 200
    text = schema.content.decode()
    for path in (
        "/rules/",
        "/rules/{id}/",
        "/rules/{id}/test/",
        "/incidents/",
        "/incidents/{id}/mute/",
    ):
        assert path in text
    assert "0.2 = 20%" in text
