"""The p95 kept per minute (monitor/pipeline/p95_minutes.py) is the value the walk of the minute
histogram gives (monitor/rules/latency.py), after any number of batches, at the edges of the
rank, when the migration fills it from stored histograms, and when the per-minute p95 series
reads it instead of the histograms."""

import importlib
import random
import threading
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection, transaction

from monitor.models import Endpoint, ProjectLatencyRollup, ProjectP95Minute
from monitor.pipeline import p95_minutes, retention, rollups
from monitor.reads import series
from monitor.reads.timerange import TimeRange
from monitor.rules.latency import bucket_value_ms, quantiles_of
from monitor.rules.timebuckets import MINUTE, floor
from tests.monitor.locks import waiting_on_a_lock

LATENCY = "monitor_rollup_latency_minute"
T0 = floor(datetime.now(UTC), MINUTE) - timedelta(hours=6)


def endpoints(shop, n: int = 3) -> list[int]:
    return [
        Endpoint.objects.create(project=shop, method="GET", route=f"/v1/e{i}").id for i in range(n)
    ]


def walked(project) -> dict[datetime, tuple[int, float]]:
    """Each minute's (requests, p95) by the histogram walk, from the project-wide histograms."""
    hists: dict = defaultdict(dict)
    for minute, bucket, n in ProjectLatencyRollup.objects.filter(project=project).values_list(
        "minute", "bucket", "n"
    ):
        hists[minute][bucket] = n
    out = {}
    for minute, hist in hists.items():
        buckets = sorted(hist)
        counts = [hist[b] for b in buckets]
        out[minute] = (sum(counts), quantiles_of(buckets, counts, (0.95,))[0])
    return out


def kept(project) -> dict[datetime, tuple[int, float]]:
    return {
        minute: (n, bucket_value_ms(bucket))
        for minute, n, bucket in ProjectP95Minute.objects.filter(project=project).values_list(
            "minute", "requests", "bucket"
        )
    }


def random_batches(project_id: int, eps: list[int], batches: int, seed: int) -> list[dict]:
    rnd = random.Random(seed)
    out = []
    for _ in range(batches):
        counts: dict = {}
        for _ in range(rnd.randint(1, 60)):
            minute = T0 + timedelta(minutes=rnd.randint(0, 90))
            bucket = rnd.choice([0, 1, 2, 50, 51, 52, 80, 81, 120, 200, 600])
            key = (project_id, minute, rnd.choice(eps), bucket)
            counts.setdefault(key, [0])[0] += rnd.choice([1, 1, 1, 2, 5, 19, 100])
        out.append(counts)
    return out


def test_the_kept_p95_is_the_histogram_walk_after_every_batch(shop):
    eps = endpoints(shop)
    for counts in random_batches(shop.id, eps, 40, seed=22):
        rollups.add(LATENCY, counts)
        assert kept(shop) == walked(shop)
    assert len(kept(shop)) > 50


def test_the_kept_p95_matches_the_walk_at_the_edge_of_the_rank(shop):
    # For totals 1..400, a minute whose lower bucket holds the count nearest to 0.95 × total:
    # whether it reaches the rank is decided by the same double-precision comparison.
    (ep,) = endpoints(shop, 1)
    counts = {}
    for total in range(1, 401):
        minute = T0 + timedelta(minutes=total)
        low = min(total, round(0.95 * total))
        counts[(shop.id, minute, ep, 40)] = [low]
        if total > low:
            counts[(shop.id, minute, ep, 70)] = [total - low]
    rollups.add(LATENCY, counts)
    assert kept(shop) == walked(shop)
    assert {v for _, v in kept(shop).values()} == {bucket_value_ms(40), bucket_value_ms(70)}


def test_the_migration_fills_the_same_values_from_stored_histograms(shop):
    eps = endpoints(shop)
    for counts in random_batches(shop.id, eps, 10, seed=5):
        rollups.add(LATENCY, counts)
    before = kept(shop)
    ProjectP95Minute.objects.all().delete()
    migration = importlib.import_module("monitor.migrations.0017_p95_minute_reads")
    real = "float8" if connection.vendor == "postgresql" else "REAL"
    with connection.cursor() as cursor:
        cursor.execute(migration.FILL.format(real=real))
    assert kept(shop) == before == walked(shop)


def test_the_per_minute_p95_series_reads_the_same_values_as_the_histograms(shop):
    eps = endpoints(shop)
    for counts in random_batches(shop.id, eps, 20, seed=7):
        rollups.add(LATENCY, counts)
    rng = TimeRange(T0 - timedelta(minutes=30), T0 + timedelta(hours=2))
    fast = series.quantile_series(shop, rng, MINUTE, qs=(0.95,))
    # With the histograms asked for, the series is the walk of the summed histograms.
    walk = series.quantile_series(shop, rng, MINUTE, qs=(0.95,), histograms=True)
    assert fast == {None: {t: (n, values) for t, (n, values, _) in walk[None].items()}}
    assert len(fast[None]) > 50
    # The hour series still reads the histograms, and agrees on the totals.
    hours = series.quantile_series(shop, rng, timedelta(hours=1), qs=(0.95,))
    assert sum(n for n, _ in hours[None].values()) == sum(n for n, _ in fast[None].values())


def test_prune_deletes_the_kept_p95_with_the_minute_rollups(shop, settings):
    (ep,) = endpoints(shop, 1)
    old = T0 - timedelta(days=settings.CONFLICTWATCH_ROLLUP_RETENTION_DAYS + 2)
    rollups.add(LATENCY, {(shop.id, old, ep, 10): [3], (shop.id, T0, ep, 10): [3]})
    assert ProjectP95Minute.objects.count() == 2
    report = retention.prune()
    assert report.deleted[p95_minutes.TABLE] == 1
    assert list(ProjectP95Minute.objects.values_list("minute", flat=True)) == [T0]


@pytest.mark.postgres
def test_two_transactions_adding_to_one_minute_keep_the_p95_of_both(transactional_db, shop):
    # They add to different latency buckets of the same minute, so no histogram row makes the
    # second wait: without the p95 row's lock it would recompute from its own rows only.
    (ep,) = endpoints(shop, 1)
    rollups.add(LATENCY, {(shop.id, T0, ep, 50): [1]})  # the minute's p95 row exists already
    two_writers(
        lambda: rollups.add(LATENCY, {(shop.id, T0, ep, 10): [100]}),
        lambda: rollups.add(LATENCY, {(shop.id, T0, ep, 90): [100]}),
    )
    assert kept(shop) == walked(shop) == {T0: (201, bucket_value_ms(90))}


@pytest.mark.postgres  # concurrent writers: SQLite has one at a time
def test_a_second_writer_of_a_minute_waits_at_the_hold_until_the_first_commits(
    transactional_db, shop
):
    # Both take the hold before either recomputes: the second must wait there, so that its
    # recompute comes after the first's rows are committed.
    keys = [(shop.id, T0, 50)]
    p95_minutes.hold(keys)  # the minute's p95 row exists already: no insert to wait on
    assert two_writers(lambda: p95_minutes.hold(keys), lambda: p95_minutes.hold(keys))


def two_writers(first_step, second_step) -> bool:
    """Run `first_step`, then `second_step`, each in a transaction on a connection of its own;
    the first commits once the second waits on a lock (or after 10 s). Whether the second was
    seen waiting; what either raised is raised."""
    ready, release, errors = threading.Event(), threading.Event(), []

    def in_transaction(step, then, after=None):
        try:
            if after is not None:
                after.wait(30)
            with transaction.atomic():
                step()
                then()
        except Exception as exc:  # noqa: BLE001 - raised below
            errors.append(exc)
        finally:
            ready.set()
            connection.close()

    threads = [
        threading.Thread(
            target=in_transaction, args=(first_step, lambda: ready.set() or release.wait(30))
        ),
        threading.Thread(target=in_transaction, args=(second_step, lambda: None, ready)),
    ]
    for t in threads:
        t.start()
    ready.wait(30)
    for _ in range(1000):
        if waiting_on_a_lock():
            break
        time.sleep(0.01)
    waited = waiting_on_a_lock()
    release.set()
    for t in threads:
        t.join(60)
    if errors:
        raise errors[0]
    return waited
