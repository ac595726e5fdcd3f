"""GET /metrics: Prometheus text that prometheus_client's own parser reads, with ingest counts
that match what was shipped, the aggregation backlog and lag, the alert message queue, and a
bearer token when one is set. (tests/stack/test_gunicorn_metrics.py: gunicorn's workers summed.)"""

from datetime import timedelta

import pytest
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from ingest.models import IngestBatch
from monitor.alerts.models import AlertRule, Notification
from tests.records import record


def scrape(client, **headers) -> dict[tuple[str, tuple], float]:
    """Every sample of /metrics as {(name, sorted labels): value}."""
    response = client.get("/metrics", **headers)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(response.content.decode())
        for s in family.samples
    }


def delta(before: dict, after: dict, name: str, **labels) -> float:
    key = (name, tuple(sorted(labels.items())))
    return after.get(key, 0.0) - before.get(key, 0.0)


def test_the_ingest_counts_match_what_was_shipped(client, post_logs):
    before = scrape(client)
    good = [record(i, request_id=f"m-{i}") for i in range(10)]
    bad = [{"ts": "yesterday", "method": "GET", "path": "/x", "status": 200}, {"path": 1}]
    answer = post_logs(good + bad).json()
    assert (answer["accepted"], answer["duplicates"], answer["rejected"]) == (10, 0, 2)
    assert post_logs(good[:3]).json()["duplicates"] == 3
    assert post_logs(good, auth=False).status_code == 401
    assert post_logs(good, content_type="application/xml").status_code == 415
    after = scrape(client)

    records = "conflictwatch_ingest_records_total"
    assert delta(before, after, records, answer="accepted") == 10
    assert delta(before, after, records, answer="duplicates") == 3
    assert delta(before, after, records, answer="rejected") == 2
    batches = "conflictwatch_ingest_batches_total"
    assert delta(before, after, batches, answer="200") == 2
    assert delta(before, after, batches, answer="401") == 1
    assert delta(before, after, batches, answer="415") == 1
    # Aggregation ran after each commit: nothing waits.
    assert after[("conflictwatch_ingest_pending_batches", ())] == 0
    assert after[("conflictwatch_aggregation_lag_seconds", ())] == 0
    assert after[("conflictwatch_database_up", ())] == 1


def test_it_shows_the_backlog_its_lag_and_the_alert_queue(client, shop):
    batch = IngestBatch.objects.create(project=shop)
    IngestBatch.objects.filter(pk=batch.pk).update(
        received_at=timezone.now() - timedelta(minutes=5)
    )
    rule = AlertRule.objects.create(
        project=shop,
        name="r",
        metric="conflicts",
        threshold=1,
        enabled=True,
        evaluated_minute=timezone.now() - timedelta(minutes=3),
    )
    now = timezone.now()
    common = {"rule": rule, "kind": "test", "event_at": now}
    Notification.objects.create(**common, via="webhook", state="failed", next_attempt_at=now)
    Notification.objects.create(**common, via="webhook", state="failed", next_attempt_at=None)
    Notification.objects.create(**common, via="email", state="pending", next_attempt_at=now)
    Notification.objects.create(**common, via="slack", state="sent", next_attempt_at=None)

    samples = scrape(client)

    assert samples[("conflictwatch_ingest_pending_batches", ())] == 1
    assert 299 < samples[("conflictwatch_aggregation_lag_seconds", ())] < 400
    queue = "conflictwatch_alert_queue"
    assert samples[(queue, (("state", "retrying"), ("via", "webhook")))] == 1
    assert samples[(queue, (("state", "pending"), ("via", "email")))] == 1
    assert samples[(queue, (("state", "pending"), ("via", "slack")))] == 0
    assert samples[("conflictwatch_alert_given_up", (("via", "webhook"),))] == 1
    assert samples[("conflictwatch_alert_given_up", (("via", "slack"),))] == 0
    assert 179 < samples[("conflictwatch_alert_evaluation_age_seconds", ())] < 300


def test_a_metrics_token_is_required_once_set(client, settings, db):
    settings.CONFLICTWATCH_METRICS_TOKEN = "s3cret-metrics"
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Token s3cret-metrics").status_code == 401
    denied = client.get("/metrics")
    assert denied["WWW-Authenticate"] == 'Bearer realm="metrics"'
    assert b"conflictwatch" not in denied.content
    assert scrape(client, HTTP_AUTHORIZATION="Bearer s3cret-metrics")


def test_only_get_is_answered(client, db):
    assert client.post("/metrics").status_code == 405


@pytest.mark.postgres
def test_a_scrape_with_the_database_down_still_answers_and_says_so(client, transactional_db):
    from django.db import connection

    from tests.ingest.test_database_down import database_down

    if connection.vendor != "postgresql":
        pytest.skip("the database is taken away by pointing the connection at a closed port")
    with database_down():
        samples = scrape(client)
    assert samples[("conflictwatch_database_up", ())] == 0
    assert ("conflictwatch_ingest_pending_batches", ()) not in samples
