"""The conflict analysis's rollups (client, outcome, resource, race pairs) at three grains:
filled together, read over long ranges from hour and day rows, and kept past the minute
rollups' retention like the status counts."""

import random
from collections import Counter
from datetime import UTC, datetime, timedelta

from django.db import connection
from django.db.models import Sum
from django.test.utils import CaptureQueriesContext

from ingest.models import Request
from monitor.models import (
    ClientDayRollup,
    ClientHourRollup,
    ClientRollup,
    OutcomeDayRollup,
    OutcomeHourRollup,
    OutcomeRollup,
    RacePairDayRollup,
    RacePairHourRollup,
    RacePairRollup,
    ResourceDayRollup,
    ResourceHourRollup,
    ResourceRollup,
    ResourceTotalDayRollup,
)
from monitor.pipeline import retention
from monitor.reads import conflicts
from monitor.reads.timerange import TimeRange
from monitor.rules.causes import CONFLICT_STATUSES

NOW = datetime.now(UTC).replace(microsecond=0)
CLIENTS = ["mobile", "billing", "web", "sync"]


def iso(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


def races_over(days: float, per_day: int, seed: int = 1) -> list[dict]:
    """Every day: races (a PATCH that wins, another client's PATCH a second later gets a 409),
    duplicate creates, and reads, spread at random instants over the last `days` days."""
    rnd = random.Random(seed)
    out = []
    for i in range(int(days * per_day)):
        t = NOW - timedelta(seconds=rnd.uniform(120, days * 86400))
        item = f"/v1/items/{rnd.randrange(6)}"
        winner, loser = rnd.sample(CLIENTS, 2)
        kind = rnd.random()
        if kind < 0.5:
            out.append(_rec(f"w{i}", t, "PATCH", item, 200, winner))
            out.append(_rec(f"l{i}", t + timedelta(seconds=1), "PATCH", item, 409, loser))
        elif kind < 0.7:
            out.append(_rec(f"d{i}", t, "POST", "/v1/items", 409, loser))
        else:
            out.append(_rec(f"g{i}", t, "GET", item, 200, winner))
    return out


def _rec(rid: str, t: datetime, method: str, path: str, status: int, client: str) -> dict:
    return {
        "ts": iso(t),
        "method": method,
        "path": path,
        "status": status,
        "client": client,
        "request_id": rid,
        "duration_ms": 12,
    }


def folded(model, keys: list[str], values: list[str]) -> dict:
    return {
        tuple(row[k] for k in keys): tuple(row[f"s_{v}"] for v in values)
        for row in model.objects.values(*keys).annotate(**{f"s_{v}": Sum(v) for v in values})
    }


def test_aggregation_fills_the_hour_and_day_tables_with_the_minute_counts(post_logs):
    post_logs(races_over(3, 40))
    for models, keys, values in [
        (
            (ClientRollup, ClientHourRollup, ClientDayRollup),
            ["endpoint_id", "client"],
            ["requests", "conflicts", "caused", "suffered", "writes", "creates"],
        ),
        (
            (OutcomeRollup, OutcomeHourRollup, OutcomeDayRollup),
            ["endpoint_id", "client", "cause", "outcome"],
            ["n"],
        ),
        ((ResourceRollup, ResourceHourRollup, ResourceDayRollup), ["resource", "cause"], ["n"]),
        ((RacePairRollup, RacePairHourRollup, RacePairDayRollup), ["winner", "loser"], ["n"]),
    ]:
        minute, hour, day = (folded(m, keys, values) for m in models)
        assert minute and minute == hour == day, models[0].__name__
    # The resource totals are the day rows summed over endpoint and cause.
    assert folded(ResourceTotalDayRollup, ["minute", "resource"], ["n"]) == folded(
        ResourceDayRollup, ["minute", "resource"], ["n"]
    )
    assert all(t.minute == 0 for t in ClientHourRollup.objects.values_list("minute", flat=True))
    assert all(t.hour == 0 for t in ResourceDayRollup.objects.values_list("minute", flat=True))


def exact(rng: TimeRange) -> tuple[dict, dict, dict]:
    """Offender counts, hotspot counts and race pairs computed from the raw rows."""
    rows = Request.objects.filter(ts__gte=rng.start.replace(second=0), ts__lt=rng.end)
    requests = Counter(rows.values_list("client", flat=True))
    conflicted = rows.filter(status__in=CONFLICT_STATUSES)
    received = Counter(conflicted.values_list("client", flat=True))
    offenders = {c: (requests[c], received[c]) for c in requests}
    spots = Counter(conflicted.values_list("resource", flat=True))
    pairs = Counter(
        conflicted.filter(race_winner__isnull=False).values_list(
            "resource", "race_winner__client", "client"
        )
    )
    return offenders, dict(spots), dict(pairs)


def read(shop, rng: TimeRange) -> tuple[dict, dict, dict]:
    offenders = {
        o["client"]: (o["requests"], o["conflicts"]) for o in conflicts.offenders(shop, rng)
    }
    spots = conflicts.hotspots(shop, rng, limit=100)
    pairs = {
        (s["resource"], p["winner"], p["loser"]): p["races"] for s in spots for p in s["race_pairs"]
    }
    return offenders, {s["resource"]: s["conflicts"] for s in spots}, pairs


def test_offenders_and_hotspots_of_7_and_13_days_read_hour_and_day_rows(shop, post_logs):
    post_logs(races_over(13, 30, seed=2))
    for days in (7, 13):
        # Starting at 06:43 whatever the time of day: a range started at 23:50 and ended at
        # 00:07 has no whole hour at either edge, and reads no hour rows.
        start = NOW.replace(hour=6, minute=43, second=0) - timedelta(days=days)
        rng = TimeRange(start, NOW)
        with CaptureQueriesContext(connection) as ctx:
            offenders, spots, pairs = read(shop, rng)
        exact_offenders, exact_spots, exact_pairs = exact(rng)
        assert (offenders, spots) == (exact_offenders, exact_spots), days
        # The busiest pairs of each resource (PAIRS_PER_HOTSPOT), with their exact counts.
        assert pairs and all(exact_pairs[key] == n for key, n in pairs.items())
        for resource in spots:
            shown = sorted(n for (r, *_), n in pairs.items() if r == resource)
            every = sorted(n for (r, *_), n in exact_pairs.items() if r == resource)
            assert shown == every[-conflicts.PAIRS_PER_HOTSPOT :], resource
        sql = " ".join(q["sql"] for q in ctx.captured_queries)
        for table in ("client_day", "client_hour", "resource_day", "race_day"):
            assert f"monitor_rollup_{table}" in sql, (days, table)
    # Every cause's conflicts are there, at the day grain as at the minute grain.
    rng = TimeRange(NOW - timedelta(days=13, minutes=17), NOW)
    by_cause = conflicts.outcomes_by_cause(shop, rng)
    assert (
        by_cause["concurrent_write"]["conflicts"]
        == Request.objects.filter(cause="concurrent_write").count()
    )


def test_offenders_hotspots_and_remedies_outlive_the_minute_rollups(shop, post_logs, settings):
    post_logs(races_over(13, 30, seed=3))
    settings.CONFLICTWATCH_RAW_RETENTION_DAYS = 14
    settings.CONFLICTWATCH_ROLLUP_RETENTION_DAYS = 5
    rng = TimeRange(NOW - timedelta(days=13, hours=3, minutes=7), NOW)

    def everything():
        return (
            read(shop, rng),
            conflicts.offenders(shop, rng, order="caused"),
            conflicts.outcomes_by_cause(shop, rng),
            conflicts.coverage(shop, rng, by="client"),
            conflicts.clients_by_cause(shop, rng, "concurrent_write"),
            conflicts.retry_behaviour(shop, rng, "web"),
            conflicts.rivals(shop, rng, "web", "winner"),
        )

    before = everything()
    assert before[0][:2] == exact(rng)[:2]
    old = NOW - timedelta(days=6)
    assert ClientRollup.objects.filter(minute__lt=old).exists()
    report = retention.prune()
    assert report.deleted["monitor_rollup_client_minute"] > 0
    assert report.deleted["monitor_rollup_client_day"] == 0
    for model in (ClientRollup, OutcomeRollup, ResourceRollup, RacePairRollup):
        assert not model.objects.filter(minute__lt=old).exists(), model.__name__
    assert ClientDayRollup.objects.filter(minute__lt=old).exists()
    assert RacePairDayRollup.objects.filter(minute__lt=old).exists()
    assert everything() == before


def test_hotspots_rank_resources_exactly_whatever_part_of_the_range_holds_them(shop, post_logs):
    """Whole days are ranked from the resource totals, the ragged edges from hour and minute
    rows: a resource whose conflicts sit in the range's first and last minutes outranks one
    with fewer in the days between, and one busy just before the range (the same day's
    totals hold those) is ranked by its conflicts in the range alone."""
    rng = TimeRange(NOW - timedelta(days=7, minutes=17), NOW)
    start = rng.start.replace(second=0) + timedelta(minutes=1)

    def conflicts_at(resource: str, times: list[datetime]) -> list[dict]:
        return [
            _rec(f"{resource}-{i}", t, "PATCH", f"/v1/items/{resource}", 409, CLIENTS[i % 4])
            for i, t in enumerate(times)
        ]

    edges = [start + timedelta(seconds=10 * i) for i in range(3)]
    edges += [NOW - timedelta(seconds=100 + 10 * i) for i in range(3)]
    middle = [NOW - timedelta(days=3, hours=i) for i in range(5)]
    before = [rng.start - timedelta(minutes=3, seconds=i) for i in range(10)]
    post_logs(
        conflicts_at("edge", edges)
        + conflicts_at("middle", middle)
        + conflicts_at("before", before)
        + conflicts_at("before", [NOW - timedelta(days=4)])
    )
    spots = conflicts.hotspots(shop, rng, limit=2)
    assert [(s["resource"], s["conflicts"]) for s in spots] == [
        ("/v1/items/edge", 6),
        ("/v1/items/middle", 5),
    ]
    everything = {s["resource"]: s["conflicts"] for s in conflicts.hotspots(shop, rng)}
    assert everything == exact(rng)[1]
    assert everything["/v1/items/before"] == 1
