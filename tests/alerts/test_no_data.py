"""No data is not recovery: a window without requests neither opens nor resolves an incident,
and the incident says since when it has had no data. A quiet shipper is caught by silence_min."""

from datetime import timedelta

from django.utils import timezone

from ingest.models import IngestBatch, Source
from ingest.sources import create_source
from monitor.alerts.models import Incident, Notification
from tests.alerts.conftest import OPS, minute, per_minute

QUIET = (20, 1)
SPIKE = (20, 10)


def test_traffic_stopping_during_an_incident_sends_no_resolved_message(
    post_logs, make_rule, mailbox, evaluate, client, alice
):
    client.force_login(alice)
    rule = make_rule(window_minutes=5)
    per_minute(post_logs, [SPIKE] * 10)  # minutes 0-9, then the shipper breaks

    outcomes = [evaluate(minute(m)) for m in range(5, 40)]

    assert [s.split(":")[0] for s in mailbox.subjects()] == ["[Shop API] Firing"]
    assert sum(o.get("resolved", 0) for o in outcomes) == 0
    assert sum(o.get("no_data", 0) for o in outcomes) == 40 - 15
    incident = Incident.objects.get(rule=rule)
    assert incident.state == "firing"
    # The window ending at minute 15 was the first without a request: none since minute 10.
    assert incident.no_data_since == minute(10)
    assert incident.details["no_data_reason"] == "no requests in the window"
    page = client.get(f"/p/shop/incidents/{incident.id}/").content.decode()
    assert f"No data since {minute(10):%Y-%m-%d %H:%M} UTC" in page
    listed = client.get("/p/shop/incidents/").content.decode()
    assert f"no data since {minute(10):%m-%d %H:%M}" in listed

    # Traffic comes back, healthy: now it resolves, with one mail, and the gap is forgotten.
    per_minute(post_logs, [QUIET] * 10, first_minute=40, tag="back")
    for m in range(40, 50):
        evaluate(minute(m))
    incident.refresh_from_db()
    assert incident.state == "resolved"
    assert incident.no_data_since is None
    assert [s.split(":")[0] for s in mailbox.subjects()] == [
        "[Shop API] Firing",
        "[Shop API] Resolved",
    ]
    assert "back to 5.0%" in mailbox.messages[1].get_body(("plain",)).get_content()


def test_too_little_traffic_during_an_incident_holds_it_too(
    post_logs, make_rule, mailbox, evaluate
):
    rule = make_rule(window_minutes=2, min_requests=10)
    per_minute(post_logs, [SPIKE] * 3 + [(2, 0)] * 5)

    for m in range(2, 9):
        evaluate(minute(m))

    incident = Incident.objects.get(rule=rule)
    assert incident.state == "firing"
    assert incident.details["no_data_reason"] == "too little traffic"
    assert len(mailbox.messages) == 1


def test_no_data_opens_nothing(post_logs, make_rule, mailbox, evaluate):
    make_rule(metric="conflicts", threshold=5, window_minutes=5)
    for m in range(1, 10):
        assert evaluate(minute(m)) == {"quiet": 1, "evaluated": 1}
    assert Incident.objects.count() == 0


def _ship_at(post_logs, token, received_at, tag: str) -> None:
    """Ship one record with this source's token, then say it arrived at `received_at`."""
    response = post_logs(
        [
            {
                "ts": timezone.now().isoformat(),
                "method": "GET",
                "path": "/v1/ping",
                "status": 200,
                "request_id": tag,
            }
        ],
        headers={"HTTP_AUTHORIZATION": f"Bearer {token}"},
    )
    assert response.json()["accepted"] == 1
    IngestBatch.objects.filter(pk=IngestBatch.objects.latest("id").pk).update(
        received_at=received_at
    )


def test_a_silence_rule_fires_once_when_a_source_goes_quiet_and_resolves_when_it_ships(
    post_logs, make_rule, mailbox, evaluate, shop, token, receivers, api
):
    gateway = Source.objects.get(project=shop, name="gateway")
    _, edge_token = create_source(shop.slug, "edge")
    base = timezone.now().replace(second=0, microsecond=0)
    _ship_at(post_logs, token, base - timedelta(minutes=30), "gw-1")
    rule = make_rule(
        name="Gateway quiet", metric="silence_min", threshold=10, source=gateway, recipients=[OPS]
    )
    project_rule = make_rule(name="Project quiet", metric="silence_min", threshold=10)
    sink = receivers()
    api.post(
        f"/api/v1/projects/shop/rules/{rule.id}/channels/",
        {"kind": "webhook", "target": sink.url()},
        content_type="application/json",
    )

    # The edge source keeps shipping: the project is not quiet, the gateway is.
    for m in range(0, 4):
        _ship_at(post_logs, edge_token, base + timedelta(minutes=m, seconds=5), f"edge-{m}")
        evaluate(base + timedelta(minutes=m + 1))

    assert Incident.objects.filter(rule=project_rule).count() == 0
    incident = Incident.objects.get(rule=rule)
    assert incident.state == "firing"
    assert incident.opened_at == base + timedelta(minutes=1)
    assert incident.value == 31.0
    assert [s for s in mailbox.subjects()] == [
        "[Shop API] Firing: Gateway quiet - minutes without records 31 min > 10 min (source gateway)"
    ]
    text = mailbox.messages[0].get_body(("plain",)).get_content()
    assert f"Last record received {base - timedelta(minutes=30):%Y-%m-%d %H:%M} UTC" in text
    assert "Top causes" not in text
    assert sink.events() == ["opened"]
    assert sink.posts[0].json["last_record_at"] is not None

    # The gateway ships again: resolved, once.
    _ship_at(post_logs, token, base + timedelta(minutes=4, seconds=10), "gw-2")
    evaluate(base + timedelta(minutes=5))
    evaluate(base + timedelta(minutes=6))
    incident.refresh_from_db()
    assert incident.state == "resolved"
    assert incident.resolved_at == base + timedelta(minutes=5)
    assert [s.split(":")[0] for s in mailbox.subjects()] == [
        "[Shop API] Firing",
        "[Shop API] Resolved",
    ]
    assert sink.events() == ["opened", "resolved"]
    assert Notification.objects.filter(incident=incident).count() == 4


def test_a_project_silence_rule_watches_every_source(post_logs, make_rule, evaluate, token):
    base = timezone.now().replace(second=0, microsecond=0)
    _ship_at(post_logs, token, base - timedelta(minutes=20), "one")
    rule = make_rule(name="Anything?", metric="silence_min", threshold=15, recipients=[])
    assert evaluate(base)["opened"] == 1
    assert Incident.objects.get(rule=rule).value == 20.0


def test_a_source_that_never_shipped_is_not_an_outage(make_rule, evaluate, shop, token):
    gateway = Source.objects.get(project=shop, name="gateway")
    make_rule(metric="silence_min", threshold=1, source=gateway, recipients=[])
    assert evaluate(timezone.now())["quiet"] == 1


def test_a_silence_rule_names_a_source_of_its_own_project_only(api, charlie, shop, token):
    other_source, _ = create_source("other", "theirs")
    gateway = Source.objects.get(project=shop, name="gateway")
    rules = "/api/v1/projects/shop/rules/"
    body = {"name": "Quiet", "metric": "silence_min", "threshold": 10, "source": gateway.id}
    assert api.post(rules, body, content_type="application/json").status_code == 201
    foreign = {**body, "source": other_source.id}
    answer = api.post(rules, foreign, content_type="application/json")
    assert answer.status_code == 400 and answer.json()["error"].startswith("source:")
    with_endpoint = {**body, "metric": "conflict_rate", "threshold": 0.2}
    answer = api.post(rules, with_endpoint, content_type="application/json")
    assert answer.status_code == 400
    assert answer.json()["error"] == "source: only silence_min watches a source"
    negative = {**body, "threshold": 0}
    assert api.post(rules, negative, content_type="application/json").status_code == 400


def test_a_conflict_count_without_requests_is_no_data_not_zero(
    post_logs, make_rule, mailbox, evaluate
):
    rule = make_rule(metric="conflicts", threshold=5, window_minutes=1)
    per_minute(post_logs, [SPIKE] * 3)

    for m in range(1, 12):
        evaluate(minute(m))

    incident = Incident.objects.get(rule=rule)
    assert incident.state == "firing"
    assert incident.no_data_since == minute(3)
    assert [s.split(":")[0] for s in mailbox.subjects()] == ["[Shop API] Firing"]
