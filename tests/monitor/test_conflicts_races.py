"""Race pairs: a 409 linked to the other client's write that beat it, whichever batch brings
which side first, with the rollup counts moved when a late winner turns an `unknown` into a
`concurrent_write`."""

import pytest
from django.core.exceptions import ValidationError
from django.db.models import Sum

from ingest.models import Request
from monitor.models import (
    MAX_RACE_WINDOW_SECONDS,
    ClientRollup,
    RacePairRollup,
    ResourceRollup,
    StatusRollup,
)
from monitor.reads.conflicts import conflict_story
from tests.monitor.conflict_records import rec

WINNER = rec(0, "PATCH", "/v1/orders/7", 200, "billing")
LOSER = rec(1.5, "PATCH", "/v1/orders/7", 409, "mobile", response_body="changed meanwhile")


def stored(request_id: str) -> Request:
    return Request.objects.select_related("race_winner").get(request_id=request_id)


def status_causes(shop) -> dict:
    rows = StatusRollup.objects.filter(project=shop, status=409).values("cause")
    return {r["cause"]: r["n"] for r in rows.annotate(n=Sum("n")) if r["n"]}


def test_a_race_is_linked_when_the_winner_comes_in_the_same_batch(post_logs, shop):
    post_logs([WINNER, LOSER])
    loser = stored(LOSER["request_id"])
    assert loser.cause == "concurrent_write"
    assert loser.race_winner.request_id == WINNER["request_id"]
    assert "billing" in loser.cause_reason
    assert list(stored(WINNER["request_id"]).race_losers.all()) == [loser]


def test_a_race_is_linked_when_the_winner_arrives_in_a_later_batch(post_logs, shop):
    post_logs([LOSER])
    assert stored(LOSER["request_id"]).cause == "unknown"
    assert status_causes(shop) == {"unknown": 1}

    post_logs([WINNER])
    loser = stored(LOSER["request_id"])
    assert loser.cause == "concurrent_write"
    assert loser.race_winner.request_id == WINNER["request_id"]
    assert status_causes(shop) == {"concurrent_write": 1}
    resources = ResourceRollup.objects.filter(project=shop).values("cause").annotate(n=Sum("n"))
    assert {r["cause"]: r["n"] for r in resources if r["n"]} == {"concurrent_write": 1}
    pairs = RacePairRollup.objects.filter(project=shop).values_list("winner", "loser", "n")
    assert list(pairs) == [("billing", "mobile", 1)]
    by_client = {
        r["client"]: (r["caused"], r["suffered"])
        for r in ClientRollup.objects.filter(project=shop)
        .values("client")
        .annotate(caused=Sum("caused"), suffered=Sum("suffered"))
    }
    assert by_client == {"billing": (1, 0), "mobile": (0, 1)}


def test_a_race_is_linked_when_the_winner_arrives_first_in_its_own_batch(post_logs, shop):
    post_logs([WINNER])
    post_logs([LOSER])
    assert stored(LOSER["request_id"]).race_winner.request_id == WINNER["request_id"]
    assert status_causes(shop) == {"concurrent_write": 1}


def test_a_write_outside_the_race_window_is_no_winner(post_logs, shop):
    late = rec(-10, "PATCH", "/v1/orders/7", 200, "billing")
    post_logs([LOSER])
    post_logs([late])
    assert stored(LOSER["request_id"]).cause == "unknown"
    assert status_causes(shop) == {"unknown": 1}


def test_the_project_race_window_widens_it(post_logs, shop):
    shop.race_window_seconds = 20
    shop.save()
    post_logs([LOSER])
    post_logs([rec(-10, "PATCH", "/v1/orders/7", 200, "billing")])
    assert stored(LOSER["request_id"]).cause == "concurrent_write"


def test_the_clients_own_earlier_write_is_no_winner(post_logs, shop):
    post_logs([rec(0, "PATCH", "/v1/orders/7", 200, "mobile"), LOSER])
    assert stored(LOSER["request_id"]).cause == "unknown"


def test_a_write_to_another_resource_is_no_winner(post_logs, shop):
    post_logs([rec(0, "PATCH", "/v1/orders/8", 200, "billing"), LOSER])
    assert stored(LOSER["request_id"]).cause == "unknown"


def test_a_create_only_put_is_linked_to_the_client_that_created_it_first(post_logs, shop):
    first = rec(0, "PUT", "/v1/customers/9", 201, "partner", request_headers={"If-None-Match": "*"})
    second = rec(0.4, "PUT", "/v1/customers/9", 409, "web", request_headers={"If-None-Match": "*"})
    post_logs([second])
    post_logs([first])
    dup = stored(second["request_id"])
    assert dup.cause == "duplicate"
    assert dup.race_winner.request_id == first["request_id"]
    assert "partner created it first" in dup.cause_reason
    assert status_causes(shop) == {"duplicate": 1}


def test_a_project_phrase_decides_a_lock(post_logs, shop):
    shop.conflict_phrases = {"lock": ["in use by"]}
    shop.save()
    post_logs([rec(0, "PUT", "/v1/orders/7", 409, "mobile", response_body="Order in use by Bob")])
    row = stored("mobile-PUT-409-0")
    assert row.cause == "lock"
    assert "'in use by'" in row.cause_reason


def test_a_resent_batch_does_not_link_or_count_twice(post_logs, shop):
    post_logs([LOSER])
    post_logs([WINNER])
    post_logs([WINNER, LOSER])
    assert status_causes(shop) == {"concurrent_write": 1}
    assert RacePairRollup.objects.filter(project=shop).aggregate(n=Sum("n"))["n"] == 1


def test_a_cause_moved_away_from_leaves_no_zero_behind(api, post_logs, shop):
    post_logs([LOSER])
    post_logs([WINNER])
    summary = api.get("/api/v1/projects/shop/summary/", {"from": "-3h"}).json()
    assert summary["by_cause"] == {"concurrent_write": 1}
    assert not StatusRollup.objects.filter(project=shop, n=0).exists()
    assert not ResourceRollup.objects.filter(project=shop, n=0).exists()


def test_the_winners_story_lists_its_losers_up_to_the_longest_race_window(post_logs, shop):
    shop.race_window_seconds = MAX_RACE_WINDOW_SECONDS
    shop.save()
    late = rec(MAX_RACE_WINDOW_SECONDS, "PATCH", "/v1/orders/7", 409, "web")
    elsewhere = rec(2, "PATCH", "/v1/orders/8", 409, "web")
    post_logs([WINNER, LOSER, late, elsewhere])
    story = conflict_story(stored(WINNER["request_id"]))
    assert [r.request_id for r in story["race_losers"]] == [
        LOSER["request_id"],
        late["request_id"],
    ]


@pytest.mark.parametrize(
    ("stored_seconds", "used"),
    [(5.0, 5.0), (1e12, MAX_RACE_WINDOW_SECONDS), (-3.0, 0.0), (float("nan"), 0.0)],
)
def test_the_race_window_is_held_within_its_bounds(shop, stored_seconds, used):
    shop.race_window_seconds = stored_seconds
    assert shop.race_window.total_seconds() == used


def test_a_race_window_beyond_an_hour_is_refused(shop):
    shop.race_window_seconds = MAX_RACE_WINDOW_SECONDS + 1
    with pytest.raises(ValidationError, match="race_window_seconds"):
        shop.full_clean()


@pytest.mark.parametrize("order", ["stored first", "stored last"])
def test_of_two_winning_writes_at_the_same_time_the_same_one_wins_in_any_order(
    post_logs, shop, order
):
    first = rec(0, "PATCH", "/v1/orders/7", 200, "billing")
    second = rec(0, "PATCH", "/v1/orders/7", 200, "web")
    post_logs([first, second, LOSER] if order == "stored first" else [second, first, LOSER])
    assert stored(LOSER["request_id"]).race_winner.request_id == second["request_id"]


def test_the_winner_is_the_write_that_committed_before_the_answer_not_the_first_to_start(
    post_logs, shop
):
    # The loser reached the gateway 2 ms before the winner, but the winner finished first.
    loser = rec(10, "PATCH", "/v1/orders/7", 409, "mobile", duration_ms=40)
    winner = rec(10.002, "PATCH", "/v1/orders/7", 200, "billing", duration_ms=15)
    older = rec(8, "PATCH", "/v1/orders/7", 200, "web", duration_ms=10)
    post_logs([older, loser, winner])
    row = stored(loser["request_id"])
    assert row.cause == "concurrent_write"
    assert row.race_winner.request_id == winner["request_id"]
    story = conflict_story(stored(winner["request_id"]))
    assert [r.request_id for r in story["race_losers"]] == [loser["request_id"]]


def test_a_write_that_ended_after_the_answer_is_no_winner(post_logs, shop):
    loser = rec(10, "PATCH", "/v1/orders/7", 409, "mobile", duration_ms=5)
    slower = rec(9.99, "PATCH", "/v1/orders/7", 200, "billing", duration_ms=50)
    post_logs([loser, slower])
    assert stored(loser["request_id"]).cause == "unknown"


def _offenders(project) -> dict:
    return {
        r["client"]: (r["caused"], r["suffered"])
        for r in ClientRollup.objects.filter(project=project)
        .values("client")
        .annotate(caused=Sum("caused"), suffered=Sum("suffered"))
        if r["caused"] or r["suffered"]
    }


def test_a_closer_winner_in_a_later_batch_takes_the_race_and_its_counts(post_logs, shop):
    far = rec(8, "PATCH", "/v1/orders/7", 200, "web")
    close = rec(9.5, "PATCH", "/v1/orders/7", 200, "billing")
    loser = rec(10, "PATCH", "/v1/orders/7", 409, "mobile")
    post_logs([far, loser])
    assert stored(loser["request_id"]).race_winner.request_id == far["request_id"]
    post_logs([close])
    row = stored(loser["request_id"])
    assert row.race_winner.request_id == close["request_id"]
    assert "billing" in row.cause_reason
    assert _offenders(shop) == {"billing": (1, 0), "mobile": (0, 1)}
    pairs = RacePairRollup.objects.filter(project=shop, n__gt=0).values_list("winner", "loser")
    assert list(pairs) == [("billing", "mobile")]


def test_a_write_that_started_before_the_slowest_write_allows_is_no_winner_in_any_batch(
    post_logs, shop
):
    # Ended within the late loser's window, but started more than SLOWEST_WRITE (30 s) before
    # it: no winner, even when an earlier loser in the same batch reaches back to its start.
    slow = rec(0, "PATCH", "/v1/orders/7", 200, "billing", duration_ms=39_000)
    early = rec(10, "PATCH", "/v1/orders/7", 409, "web", duration_ms=5)
    late = rec(40, "PATCH", "/v1/orders/7", 409, "mobile", duration_ms=5)
    post_logs([slow, early, late])
    assert stored(late["request_id"]).race_winner is None
    assert stored(late["request_id"]).cause == "unknown"
