"""incidents/: history with delivery state, acknowledge and mute; scoped to the project."""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.authtoken.models import Token

from monitor.alerts.models import Incident
from tests.alerts.conftest import minute, per_minute

INCIDENTS = "/api/v1/projects/shop/incidents/"


@pytest.fixture
def incident(post_logs, make_rule, mailbox, evaluate) -> Incident:
    make_rule(window_minutes=1)
    per_minute(post_logs, [(20, 10), (20, 0)])
    evaluate(minute(1))
    return Incident.objects.get()


def as_user(client, user):
    client.defaults["HTTP_AUTHORIZATION"] = f"Token {Token.objects.create(user=user).key}"
    return client


def test_it_lists_incidents_with_their_mail_delivery(api, incident, evaluate):
    evaluate(minute(2))
    body = api.get(INCIDENTS).json()
    [shown] = body["results"]
    assert shown["id"] == incident.id
    assert shown["rule"] == incident.rule_id
    assert shown["state"] == "resolved"
    assert shown["opened_at"] == minute(1).isoformat().replace("+00:00", "Z")
    assert shown["resolved_at"] == minute(2).isoformat().replace("+00:00", "Z")
    assert shown["value"] == 0.5 and shown["threshold"] == 0.2
    assert [(n["kind"], n["state"], n["attempts"]) for n in shown["notifications"]] == [
        ("opened", "sent", 1),
        ("resolved", "sent", 1),
    ]
    assert api.get(INCIDENTS, {"state": "firing"}).json()["results"] == []
    assert len(api.get(INCIDENTS, {"rule": incident.rule_id}).json()["results"]) == 1
    assert api.get(INCIDENTS, {"state": "bogus"}).status_code == 400
    assert api.get(INCIDENTS, {"rule": "x"}).status_code == 400


def test_acknowledging_records_who_and_when_once(api, incident, alice):
    url = f"{INCIDENTS}{incident.id}/acknowledge/"
    first = api.post(url).json()
    assert first["acknowledged_by"] == "alice" and first["acknowledged_at"]
    assert api.post(url).json()["acknowledged_at"] == first["acknowledged_at"]


def test_muting_until_a_time_and_unmuting(api, incident):
    url = f"{INCIDENTS}{incident.id}/mute/"
    until = (timezone.now() + timedelta(hours=2)).isoformat()
    assert api.post(url, {"until": until}, content_type="application/json").json()["muted_until"]
    assert (
        api.post(url, {"until": None}, content_type="application/json").json()["muted_until"]
        is None
    )

    past = (timezone.now() - timedelta(hours=1)).isoformat()
    response = api.post(url, {"until": past}, content_type="application/json")
    assert (response.status_code, response.json()) == (
        400,
        {"error": "until: must be in the future"},
    )
    far = (timezone.now() + timedelta(days=90)).isoformat()
    assert api.post(url, {"until": far}, content_type="application/json").status_code == 400
    assert api.post(url, {"until": "tomorrow"}, content_type="application/json").status_code == 400


def test_a_read_only_member_sees_incidents_but_cannot_acknowledge_or_mute(client, bob, incident):
    as_user(client, bob)
    assert client.get(INCIDENTS).status_code == 200
    assert client.post(f"{INCIDENTS}{incident.id}/acknowledge/").status_code == 403
    assert (
        client.post(
            f"{INCIDENTS}{incident.id}/mute/", {"until": None}, content_type="application/json"
        ).status_code
        == 403
    )
    incident.refresh_from_db()
    assert incident.acknowledged_at is None


def test_an_outsider_gets_404_for_the_project_and_its_incidents(client, charlie, incident):
    as_user(client, charlie)
    assert client.get(INCIDENTS).status_code == 404
    assert client.get(f"{INCIDENTS}{incident.id}/").status_code == 404
    assert client.post(f"{INCIDENTS}{incident.id}/acknowledge/").status_code == 404
    other = f"/api/v1/projects/other/incidents/{incident.id}/"
    assert client.get(other).status_code == 404
    assert (
        client.post(f"/api/v1/projects/other/incidents/{incident.id}/acknowledge/").status_code
        == 404
    )
