"""Evaluation and the incident lists make a fixed number of queries per rule, whatever the
traffic or the history."""

from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.alerts.conftest import minute, per_minute


def queries_for(fn) -> int:
    with CaptureQueriesContext(connection) as ctx:
        fn()
    return len(ctx.captured_queries)


def test_evaluation_costs_the_same_per_rule_however_much_traffic(
    post_logs, make_rule, evaluate, mailbox
):
    for i in range(3):
        make_rule(name=f"quiet {i}", threshold=0.9)
    per_minute(post_logs, [(5, 1)] * 5, tag="a")
    few = queries_for(lambda: evaluate(minute(5)))
    per_minute(post_logs, [(200, 20)] * 5, first_minute=10, tag="b")
    many = queries_for(lambda: evaluate(minute(15)))
    assert few == many
    # A quiet rule: read the rollups, claim the minute, look for its incident (plus savepoints).
    assert many <= 1 + 3 * 5


def test_the_incident_lists_do_not_grow_with_incidents(
    api, client, alice, post_logs, make_rule, evaluate, mailbox
):
    make_rule(window_minutes=1, cooldown_minutes=0)
    per_minute(post_logs, [(20, 10), (20, 0)] * 6)
    evaluate(minute(1))
    evaluate(minute(2))
    client.force_login(alice)
    one_api = queries_for(lambda: api.get("/api/v1/projects/shop/incidents/"))
    one_page = queries_for(lambda: client.get("/p/shop/incidents/"))
    for m in range(3, 13):
        evaluate(minute(m))
    assert queries_for(lambda: api.get("/api/v1/projects/shop/incidents/")) == one_api
    assert queries_for(lambda: client.get("/p/shop/incidents/")) == one_page
