"""A loser's race winner is found among its resource's successful writes by bisecting them by
start time (lookups.WinnerCandidates), not by reading every write of the span: the answer must
be the one the rule gives when every candidate is read."""

import random
from datetime import UTC, datetime, timedelta

from monitor.pipeline.lookups import (
    WinnerCandidates,
    _best_winner,
    any_between,
    ended,
    winner_order,
)
from monitor.rules.causes import SLOWEST_WRITE, RaceWinner

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def every_candidate_read(client, since, answer, candidates):
    """The rule, read off every candidate: another client's write that started at most
    SLOWEST_WRITE before `since` and ended last from `since` up to `answer`."""
    found = [
        (winner_order(ended(ts, duration), ts, other, method, id_), id_, other, method, ts, status)
        for id_, other, method, ts, status, duration in candidates
        if other != client
        and ts >= since - SLOWEST_WRITE
        and since <= ended(ts, duration) <= answer
    ]
    if not found:
        return None
    _, id_, other, method, ts, status = max(found)
    return RaceWinner(id_, other, method, ts, status)


def test_bisected_candidates_give_the_winner_every_candidate_gives():
    rng = random.Random(3)
    checked = 0
    for _ in range(300):
        candidates = [
            (
                i,
                rng.choice(["a", "b", "c", None]),
                rng.choice(["PUT", "PATCH", "DELETE", "POST"]),
                T0 + timedelta(seconds=rng.uniform(0, 300), microseconds=rng.choice([0, 1])),
                rng.choice([200, 201, 204]),
                rng.choice([None, 0.0, rng.uniform(0, 40_000)]),
            )
            for i in range(rng.randrange(0, 60))
        ]
        timeline = WinnerCandidates(rng.sample(candidates, len(candidates)))
        for _ in range(20):
            since = T0 + timedelta(seconds=rng.uniform(-40, 320))
            answer = since + timedelta(seconds=rng.uniform(0, 30))
            client = rng.choice(["a", "b", None])
            expected = every_candidate_read(client, since, answer, candidates)
            assert _best_winner(client, since, answer, timeline) == expected
            checked += expected is not None
    # Most lookups find a winner, and some do not.
    assert 1000 < checked < 6000


def test_a_clients_history_is_found_from_its_start_up_to_the_conflict_excluded():
    times = [T0 + timedelta(seconds=s) for s in (0, 10, 20)]
    assert any_between(times, T0, T0 + timedelta(seconds=1))
    assert any_between(times, T0 + timedelta(seconds=5), T0 + timedelta(seconds=11))
    assert not any_between(times, T0 + timedelta(seconds=5), T0 + timedelta(seconds=10))
    assert not any_between(times, T0 + timedelta(seconds=21), T0 + timedelta(seconds=99))
    assert not any_between([], T0, T0 + timedelta(seconds=1))
