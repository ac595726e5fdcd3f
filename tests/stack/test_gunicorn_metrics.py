"""/metrics under real gunicorn with two workers: prometheus_client's multi-process mode sums
what every worker counted (gunicorn.conf.py), and the sums match what was shipped."""

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.stack.test_pipeline import simulated


def scrape(stack) -> dict[tuple[str, tuple], float]:
    response = httpx.get(stack.url + "/metrics", timeout=30)
    assert response.status_code == 200, response.text
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


def test_every_workers_counts_are_summed_and_match_what_was_shipped(pg_stack):
    before = scrape(pg_stack)
    records = simulated(minutes=4, rate=10, seed=11)
    posts = 0
    for start in range(0, len(records), 100):
        # A new connection per post, so that gunicorn spreads them over its workers.
        assert pg_stack.ingest(records[start : start + 100]).status_code == 200
        posts += 1
    resent = pg_stack.ingest(records[:100]).json()
    assert resent["duplicates"] == 100
    refused = httpx.post(pg_stack.url + "/ingest/v1/logs", content=b"{}", timeout=30)
    assert refused.status_code == 401
    pg_stack.wait_aggregated()
    after = scrape(pg_stack)

    def grew(name: str, **labels) -> float:
        key = (name, tuple(sorted(labels.items())))
        return after.get(key, 0.0) - before.get(key, 0.0)

    assert grew("conflictwatch_ingest_records_total", answer="accepted") == len(records)
    assert grew("conflictwatch_ingest_records_total", answer="duplicates") == 100
    assert grew("conflictwatch_ingest_batches_total", answer="200") == posts + 1
    assert grew("conflictwatch_ingest_batches_total", answer="401") == 1
    assert after[("conflictwatch_ingest_pending_batches", ())] == 0
    # Both workers counted (each writes its own file): the sums above span processes.
    writers = {p.name for p in pg_stack.metrics_dir.glob("counter_*.db")}
    assert len(writers) >= 2, writers
