"""Retry outcomes: what the client did after a conflict, decided as later batches arrive and
finalized once ten minutes pass; rollup counts move with each decision."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db.models import Sum

from ingest.models import Request
from ingest.normalize import normalize
from ingest.storage import store_records
from monitor.models import OutcomeRollup, Project
from monitor.pipeline.aggregate import aggregate_batch
from monitor.pipeline.finalize import finalize_pending
from monitor.pipeline.lookups import Decidable, lock_decidable
from monitor.rules.outcomes import RETRY_HORIZON, Attempt, decide
from tests.monitor.conflict_records import T0, rec

STALE = rec(0, "PUT", "/v1/orders/7", 412, "mobile", request_headers={"If-Match": '"v1"'})


def outcome(request_id: str) -> tuple[str | None, float | None]:
    row = Request.objects.get(request_id=request_id)
    return row.retry_outcome, row.resolved_after_ms


def rolled_up(shop) -> dict:
    rows = OutcomeRollup.objects.filter(project=shop).values("outcome").annotate(n=Sum("n"))
    return {r["outcome"]: r["n"] for r in rows if r["n"]}


def test_a_successful_write_after_a_refetch_resolves_it(post_logs, shop):
    post_logs(
        [
            STALE,
            rec(0.2, "GET", "/v1/orders/7", 200, "mobile"),
            rec(0.45, "PUT", "/v1/orders/7", 200, "mobile", request_headers={"If-Match": '"v2"'}),
        ]
    )
    assert outcome(STALE["request_id"]) == ("resolved", 450.0)
    assert rolled_up(shop) == {"resolved": 1}


def test_the_same_if_match_resent_is_blind(post_logs, shop):
    again = rec(0.3, "PUT", "/v1/orders/7", 412, "mobile", request_headers={"If-Match": '"v1"'})
    post_logs([STALE, again])
    assert outcome(STALE["request_id"]) == ("blind", None)


def test_a_new_if_match_that_fails_again_is_retried(post_logs, shop):
    again = rec(0.3, "PUT", "/v1/orders/7", 412, "mobile", request_headers={"If-Match": '"v2"'})
    post_logs([STALE, again])
    assert outcome(STALE["request_id"]) == ("retried", None)


def test_a_create_resent_with_the_same_idempotency_key_is_blind(post_logs, shop):
    key = {"Idempotency-Key": "k-1"}
    first = rec(0, "POST", "/v1/payments", 409, "billing", request_headers=key)
    post_logs([first, rec(1, "POST", "/v1/payments", 409, "billing", request_headers=key)])
    assert outcome(first["request_id"]) == ("blind", None)


def test_another_clients_write_is_not_the_next_attempt(post_logs, shop):
    post_logs([STALE, rec(1, "PUT", "/v1/orders/7", 200, "billing")])
    assert outcome(STALE["request_id"])[0] == "abandoned"  # T0 is an hour ago


def test_it_is_pending_until_ten_minutes_pass_then_abandoned(post_logs, shop):
    now = datetime.now(UTC)
    fresh = dict(STALE, ts=now.isoformat(timespec="milliseconds"), request_id="fresh")
    post_logs([fresh])
    assert outcome("fresh") == ("pending", None)
    assert finalize_pending(now=now + timedelta(minutes=9)) == 0
    assert outcome("fresh") == ("pending", None)
    assert finalize_pending(now=now + timedelta(minutes=10, seconds=1)) == 1
    assert outcome("fresh") == ("abandoned", None)
    assert rolled_up(shop) == {"abandoned": 1}


def test_a_later_batch_with_the_next_write_resolves_a_stored_conflict(post_logs, shop):
    post_logs([STALE])
    assert outcome(STALE["request_id"]) == ("abandoned", None)
    post_logs([rec(5, "PUT", "/v1/orders/7", 200, "mobile")])
    assert outcome(STALE["request_id"]) == ("resolved", 5000.0)
    assert rolled_up(shop) == {"resolved": 1}
    total = OutcomeRollup.objects.filter(project=shop).aggregate(ms=Sum("resolved_ms_sum"))
    assert total["ms"] == 5000.0


def test_a_late_earlier_attempt_takes_the_place_of_the_next_one(post_logs, shop):
    post_logs([STALE, rec(5, "PUT", "/v1/orders/7", 200, "mobile")])
    assert outcome(STALE["request_id"])[0] == "resolved"
    # Delivered late: an attempt in between that failed again with the same ETag.
    post_logs([rec(2, "PUT", "/v1/orders/7", 412, "mobile", request_headers={"If-Match": '"v1"'})])
    assert outcome(STALE["request_id"]) == ("blind", None)
    assert rolled_up(shop) == {"blind": 1, "resolved": 1}


def test_a_write_after_ten_minutes_is_not_an_outcome(post_logs, shop):
    post_logs([STALE, rec(601, "PUT", "/v1/orders/7", 200, "mobile")])
    assert outcome(STALE["request_id"]) == ("abandoned", None)


@pytest.mark.parametrize(
    ("status", "if_match", "expected"),
    [
        (200, None, "resolved"),
        (204, '"v1"', "resolved"),
        (409, '"v1"', "blind"),
        (500, None, "retried"),
    ],
)
def test_decide_reads_the_next_write(status, if_match, expected):
    conflict = Attempt(1, T0, "PUT", 412, '"v1"', None)
    nxt = Attempt(2, T0 + timedelta(seconds=1), "PUT", status, if_match, None)
    assert decide(conflict, nxt, T0 + timedelta(hours=1)).outcome == expected


def test_a_late_batch_with_writes_before_and_after_a_conflict_is_weighed(post_logs, shop):
    post_logs([STALE, rec(20, "PUT", "/v1/orders/7", 200, "mobile")])
    assert outcome(STALE["request_id"]) == ("resolved", 20000.0)
    post_logs(
        [
            rec(-5, "PUT", "/v1/orders/7", 200, "mobile"),
            rec(8, "PUT", "/v1/orders/7", 200, "mobile"),
        ]
    )
    assert outcome(STALE["request_id"]) == ("resolved", 8000.0)
    assert rolled_up(shop) == {"resolved": 1}


def test_the_finalizer_finds_pending_conflicts_of_every_minute_and_project(shop):
    other = Project.objects.create(slug="other", name="Other")
    now = datetime.now(UTC)

    def pending(project, minutes_ago: float) -> None:
        ts = now - timedelta(minutes=minutes_ago)
        record = dict(
            STALE,
            ts=ts.isoformat(timespec="milliseconds"),
            path=f"/v1/orders/{minutes_ago}",  # each its own resource: none retries another
            request_id=f"r{minutes_ago}",
        )
        aggregate_batch(store_records(project, None, [normalize(record)]).batch_id)

    for minutes_ago in (0.1, 3, 7):
        pending(shop, minutes_ago)
    pending(other, 2)
    assert Request.objects.filter(retry_outcome="pending").count() == 4
    # Five minutes on, only the conflict of seven minutes ago is past the horizon.
    assert finalize_pending(now=now + timedelta(minutes=5)) == 1
    later = now + timedelta(minutes=11)
    assert finalize_pending(now=later, limit=2) == 2
    assert finalize_pending(now=later) == 1
    assert finalize_pending(now=later) == 0
    assert not Request.objects.filter(retry_outcome="pending").exists()
    assert rolled_up(shop) == {"abandoned": 3}
    assert rolled_up(other) == {"abandoned": 1}


@pytest.mark.parametrize(
    ("first_status", "expected"), [(412, ("blind", None)), (200, ("resolved", 1000.0))]
)
def test_of_two_next_writes_at_the_same_time_the_one_stored_first_decides(
    post_logs, shop, first_status, expected
):
    statuses = (first_status, 200 if first_status == 412 else 412)
    same_time = [
        rec(1, "PUT", "/v1/orders/7", status, "mobile", request_headers={"If-Match": '"v1"'})
        for status in statuses
    ]
    post_logs([STALE, *same_time])
    assert outcome(STALE["request_id"]) == expected


def test_a_decided_conflict_is_taken_up_again_only_by_a_write_before_its_next_one(post_logs, shop):
    retry = rec(2, "PUT", "/v1/orders/7", 412, "mobile", request_headers={"If-Match": '"v2"'})
    post_logs([STALE, retry])
    stale = Request.objects.get(request_id=STALE["request_id"])
    assert (stale.retry_outcome, stale.next_attempt_ms) == ("retried", 2000.0)

    def taken_up(write_at: float) -> bool:
        at = T0 + timedelta(seconds=write_at)
        decidable = Decidable(
            project_id=shop.id,
            batch_id=0,
            own={},
            writes={("mobile", "/v1/orders/7"): [at]},
            retry_span=(T0 - RETRY_HORIZON, at),
            won=set(),
            race_span=None,
        )
        return stale.id in {row["id"] for row in lock_decidable(decidable)()}

    assert taken_up(1)  # delivered late, before the retry: it may be the next attempt
    assert not taken_up(5)  # after the retry: the outcome stands
    post_logs([rec(1, "PUT", "/v1/orders/7", 200, "mobile")])
    assert outcome(STALE["request_id"]) == ("resolved", 1000.0)
