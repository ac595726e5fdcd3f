"""Sampling of successful reads: every request counted, about the rate of them stored, and
everything around a conflict (race partner, retry chain) always stored (acceptance 2)."""

from ingest.models import IngestBatch, Request, SampledKey
from ingest.sampling import keep
from monitor.reads import totals
from monitor.reads.timerange import TimeRange
from tests.monitor.conflict_records import T0, rec

READS = 3000
RACES = 25


def traffic() -> list[dict]:
    out = [rec(i * 0.5, "GET", f"/v1/orders/{i % 50}", 200, "web") for i in range(READS)]
    for k in range(RACES):
        t = 10 + k * 40
        path = f"/v1/orders/race{k}"
        out += [
            rec(t, "PATCH", path, 200, "billing"),
            rec(t + 1.5, "PATCH", path, 409, "mobile", response_body="changed meanwhile"),
            rec(t + 2, "GET", path, 200, "mobile"),  # the refetch: a read, may be sampled
            rec(t + 3, "PATCH", path, 200, "mobile"),  # the retry
        ]
    return out


def window() -> TimeRange:
    from datetime import timedelta

    return TimeRange(T0 - timedelta(minutes=1), T0 + timedelta(hours=1))


def test_at_a_tenth_every_request_is_counted_and_a_tenth_of_reads_stored(
    shop, post_logs, api, settings
):
    settings.CONFLICTWATCH_SAMPLE_SUCCESSFUL_READS = 0.1
    records = traffic()
    for start in range(0, len(records), 500):
        post_logs(records[start : start + 500])
    total = READS + 4 * RACES
    summary = totals.summary(shop, window())
    assert summary["requests"] == total
    assert summary["conflicts"] == RACES
    assert sum(e["requests"] for e in totals.endpoints(shop, window())) == total
    reads = Request.objects.filter(method="GET").count()
    assert 0.07 * (READS + RACES) < reads < 0.13 * (READS + RACES)
    assert SampledKey.objects.count() == READS + RACES - reads
    # Writes and conflicts are all stored, each loser linked to its stored winner and retry.
    assert Request.objects.filter(method="PATCH").count() == 3 * RACES
    for loser in Request.objects.filter(status=409).select_related("race_winner"):
        assert loser.cause == "concurrent_write"
        assert loser.race_winner is not None and loser.race_winner.client == "billing"
        assert loser.retry_outcome == "resolved"
    assert not IngestBatch.objects.exclude(sampled=[]).exists()
    answer = api.get("/api/v1/projects/shop/requests/").json()
    assert answer["sampled"] is True and answer["sample_rate"] == 0.1


def test_a_resent_batch_with_sampled_reads_is_not_counted_twice(shop, post_logs, settings):
    settings.CONFLICTWATCH_SAMPLE_SUCCESSFUL_READS = 0.1
    records = traffic()[:400]
    post_logs(records)
    before = totals.summary(shop, window())
    answer = post_logs(records).json()
    assert answer["accepted"] == 0 and answer["duplicates"] == 400
    assert totals.summary(shop, window()) == before
    assert before["requests"] == 400


def test_the_choice_is_deterministic_by_dedup_key_and_spares_all_but_successful_reads():
    assert all(keep("PUT", 200, f"k{i}", 0.0) for i in range(50))
    assert all(keep("GET", 404, f"k{i}", 0.0) for i in range(50))
    assert not any(keep("GET", 200, f"k{i}", 0.0) for i in range(50))
    chosen = [keep("HEAD", 200, f"k{i}", 0.3) for i in range(2000)]
    assert chosen == [keep("HEAD", 200, f"k{i}", 0.3) for i in range(2000)]
    assert 500 < sum(chosen) < 700


def test_unsampled_lists_say_they_are_complete(api, post_logs):
    post_logs(traffic()[:20])
    answer = api.get("/api/v1/projects/shop/requests/").json()
    assert answer["sampled"] is False and answer["sample_rate"] == 1.0
    assert len(answer["results"]) == 20
