"""The anomaly metric: the conflict rate now against the median of the same hour on past days.

Traffic for eight days goes through the real ingest endpoint and aggregation, with past
timestamps: the conflict rate swings by hour of day (4% to 15%) and by day (±20%), as real
traffic does. A deploy that doubles the rate fires; the daily swings do not.
"""

from datetime import UTC, datetime, timedelta

from monitor.alerts.models import Incident
from tests.alerts.conftest import records_for

# Whole hours well in the past; window j ends j hours before R, the deploy's window ends at R+1h.
R = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=3)
HOURLY_RATE = {-1: 0.06, 0: 0.04, 1: 0.08, 2: 0.15, 3: 0.10, 4: 0.05, 5: 0.12}
# Today is the busiest normal day (+15%); the past seven days' median is 1.0.
DAY_FACTOR = [1.15, 0.85, 1.1, 0.9, 1.0, 1.2, 0.8, 1.05]
REQUESTS = 200


def window_end(j: int, day: int) -> datetime:
    return R - timedelta(hours=j, days=day)


def post_days(post_logs, *, deploy_factor: float = 1.0, today_requests: int = REQUESTS):
    for day, factor in enumerate(DAY_FACTOR):
        batch = []
        for j, rate in HOURLY_RATE.items():
            # The deploy multiplies the usual rate of its hour.
            f = deploy_factor if day == 0 and j == -1 else factor
            requests = today_requests if day == 0 else REQUESTS
            conflicts = round(requests * rate * f)
            start = window_end(j, day) - timedelta(hours=1)
            batch += records_for(
                start, requests, conflicts, tag=f"d{day}h{j}", span_seconds=3600 - 1
            )
        response = post_logs(batch)
        assert response.json()["accepted"] == len(batch)


def test_it_fires_on_a_deploy_that_doubles_the_conflict_rate_and_not_on_daily_variation(
    post_logs, make_rule, mailbox, evaluate, api
):
    anomaly = make_rule(
        name="Conflicts 1.5x usual", metric="anomaly", threshold=1.5, window_minutes=60
    )
    static = make_rule(name="Static 12%", threshold=0.12, window_minutes=60, recipients=[])
    post_days(post_logs, deploy_factor=2.0)

    # Six different hours of today: busier than usual, never anomalous.
    for j in range(5, -1, -1):
        evaluate(window_end(j, 0))
        anomaly.refresh_from_db()
        assert anomaly.last_value is not None and anomaly.last_value < 1.3
    assert not Incident.objects.filter(rule=anomaly).exists()
    # A fixed threshold cannot tell the busy hours from trouble.
    assert Incident.objects.filter(rule=static).exists()
    assert mailbox.messages == []

    # The deploy, posted through the API as CI would: twice the usual rate for that hour.
    deployed_at = window_end(-1, 0) - timedelta(minutes=58)
    posted = api.post(
        "/api/v1/projects/shop/deploys/",
        {"version": "v2.4.0", "ts": deployed_at.isoformat(), "environment": "production"},
        content_type="application/json",
    )
    assert posted.status_code == 201, posted.content
    evaluate(window_end(-1, 0))
    incident = Incident.objects.get(rule=anomaly)
    assert incident.value == 2.0
    assert incident.details["baseline"] == 0.06
    assert incident.details["days"] == 7
    [message] = mailbox.messages
    assert str(message["Subject"]).startswith(
        "[Shop API] Firing: Conflicts 1.5x usual - conflict rate vs usual 2.00x"
    )
    text = message.get_body(preferencelist=("plain",)).get_content()
    assert "conflict rate 12.0%, usually 6.0% at this hour" in text
    assert (
        f"Deploy:    v2.4.0 (production) at {deployed_at:%Y-%m-%d %H:%M} UTC preceded this "
        "incident" in text
    )
    html = message.get_body(preferencelist=("html",)).get_content()
    assert "v2.4.0 (production) at" in html
    assert incident.details["deploy"]["version"] == "v2.4.0"


def test_it_stays_quiet_on_a_tiny_volume_however_high_its_rate(
    post_logs, make_rule, mailbox, evaluate
):
    rule = make_rule(metric="anomaly", threshold=1.5, window_minutes=60, min_requests=50)
    post_days(post_logs, deploy_factor=6.0, today_requests=12)

    evaluate(window_end(-1, 0))

    rule.refresh_from_db()
    assert rule.last_value is None
    assert not Incident.objects.exists()
    assert mailbox.messages == []


def test_it_gives_no_verdict_without_enough_history(post_logs, make_rule, mailbox, evaluate):
    rule = make_rule(metric="anomaly", threshold=1.5, window_minutes=60)
    start = window_end(0, 0) - timedelta(hours=1)
    post_logs(records_for(start, 200, 60, tag="only-today", span_seconds=3599))

    evaluate(window_end(0, 0))

    rule.refresh_from_db()
    assert rule.last_value is None
    assert mailbox.messages == []
