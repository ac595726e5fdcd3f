"""Two evaluators at once (two beat hosts, beat plus the command) act once and mail once."""

import threading

import pytest
from django.db import connection

from monitor.alerts.evaluate import evaluate_rules
from monitor.alerts.models import Incident, Notification
from tests.alerts.conftest import minute, per_minute


@pytest.mark.postgres
def test_two_concurrent_evaluations_send_one_mail(transactional_db, post_logs, make_rule, mailbox):
    make_rule(window_minutes=5)
    per_minute(post_logs, [(20, 10)] * 6)
    start = threading.Barrier(2)
    outcomes, errors = [], []

    def evaluator():
        try:
            start.wait()
            # Autocommit here (transactional_db): what commit enqueues runs right away, so each
            # thread also tries to send what it stored.
            outcomes.append(evaluate_rules(minute(6)))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=evaluator) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)

    assert errors == []
    assert sorted(o.get("opened", 0) for o in outcomes) == [0, 1]
    assert sorted(o.get("skipped", 0) for o in outcomes) == [0, 1]
    assert Incident.objects.count() == 1
    assert Notification.objects.get().state == "sent"
    assert len(mailbox.messages) == 1


@pytest.mark.postgres
def test_many_concurrent_evaluations_over_many_minutes_keep_one_incident(
    transactional_db, post_logs, make_rule, mailbox
):
    make_rule(window_minutes=2)
    per_minute(post_logs, [(20, 10)] * 12 + [(20, 0)] * 4)
    errors = []

    def evaluator(minutes):
        try:
            for m in minutes:
                evaluate_rules(minute(m))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    # Three evaluators sweep the same minutes at their own pace.
    threads = [threading.Thread(target=evaluator, args=(range(2, 17),)) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)

    assert errors == []
    assert Incident.objects.count() == 1
    assert [s.split(":")[0] for s in mailbox.subjects()] == [
        "[Shop API] Firing",
        "[Shop API] Resolved",
    ]
