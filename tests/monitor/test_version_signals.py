"""The version a write expects, wherever the request carries it (query parameters, the
project's version headers), in the cause, the reason, precondition coverage and the blind
rule; a 412 without a precondition; a PUT that creates told from one that updates; a create's
retry needs evidence."""

import pytest
from django.db.models import Sum

from ingest.models import Request
from monitor.models import ClientRollup, StatusRollup
from monitor.pipeline.finalize import finalize_pending
from monitor.rules.causes import classify
from monitor.rules.outcomes import RETRY_HORIZON
from monitor.rules.versions import VersionSignals
from tests.monitor.conflict_records import T0, rec


def stored(request_id: str) -> Request:
    return Request.objects.select_related("race_winner").get(request_id=request_id)


def test_a_version_query_parameter_is_a_stale_version_named_in_the_reason(post_logs, shop):
    lost = rec(0, "PUT", "/db/doc-1", 409, "mobile", query="rev=3-abc&batch=ok")
    post_logs([lost])
    row = stored(lost["request_id"])
    assert row.cause == "stale_version"
    assert row.cause_reason == "409 on a PUT that sent ?rev=3-abc"


def test_the_projects_version_header_is_kept_and_read(post_logs, shop):
    shop.version_headers = ["ES-ExpectedVersion"]
    shop.save()
    lost = rec(
        0, "POST", "/streams/orders-7", 409, "sync", request_headers={"ES-ExpectedVersion": "41"}
    )
    post_logs([lost])
    row = stored(lost["request_id"])
    assert row.request_headers == {"es-expectedversion": "41"}
    assert row.cause == "stale_version"
    assert row.cause_reason == "409 on a POST that sent Es-Expectedversion: 41"


def test_a_header_outside_the_projects_list_is_no_signal(post_logs, shop):
    shop.version_headers = []
    shop.version_params = []
    shop.save()
    lost = rec(0, "PATCH", "/db/doc-1", 409, "mobile", query="rev=3-abc")
    post_logs([lost])
    assert stored(lost["request_id"]).cause == "unknown"


def test_the_default_headers_include_x_expected_version(post_logs, shop):
    lost = rec(0, "PATCH", "/v1/carts/4", 409, "web", request_headers={"X-Expected-Version": "12"})
    post_logs([lost])
    assert (
        stored(lost["request_id"]).cause_reason == "409 on a PATCH that sent X-Expected-Version: 12"
    )


def test_resending_the_same_stale_rev_is_blind(post_logs, shop):
    first = rec(0, "PUT", "/db/doc-1", 409, "mobile", query="rev=3-abc")
    again = rec(1, "PUT", "/db/doc-1", 409, "mobile", query="rev=3-abc")
    fresh = rec(5, "PUT", "/db/doc-2", 409, "mobile", query="rev=3-abc")
    fresh_retry = rec(6, "PUT", "/db/doc-2", 409, "mobile", query="rev=4-def")
    post_logs([first, again, fresh, fresh_retry])
    assert stored(first["request_id"]).retry_outcome == "blind"
    assert stored(fresh["request_id"]).retry_outcome == "retried"


def test_precondition_coverage_counts_version_parameters(post_logs, shop):
    post_logs(
        [
            rec(0, "PUT", "/db/doc-1", 201, "mobile", query="rev=1-a"),
            rec(1, "PUT", "/db/doc-2", 201, "mobile"),
            rec(2, "PUT", "/db/doc-3", 201, "mobile", query="other=1"),
        ]
    )
    written = StatusRollup.objects.filter(project=shop).aggregate(
        writes=Sum("writes"), conditional=Sum("conditional_writes")
    )
    assert written == {"writes": 3, "conditional": 1}
    clients = ClientRollup.objects.filter(project=shop).aggregate(n=Sum("conditional_writes"))
    assert clients["n"] == 1


def test_a_412_without_a_precondition_on_a_create_is_a_duplicate(post_logs, shop):
    twice = rec(0, "PUT", "/archive", 412, "mobile")
    post_logs([twice])
    row = stored(twice["request_id"])
    assert row.cause == "duplicate"
    # The log cannot tell a precondition not sent from one not logged: the reason says so.
    assert "with no precondition in the log" in row.cause_reason
    assert "an If-Match may have been sent all the same" in row.cause_reason


def test_a_412_with_if_none_match_star_is_a_duplicate_and_with_if_match_stale(post_logs, shop):
    exists = rec(0, "PUT", "/notes.txt", 412, "web", request_headers={"If-None-Match": "*"})
    stale = rec(1, "PUT", "/notes.txt", 412, "web", request_headers={"If-Match": '"v1"'})
    post_logs([exists, stale])
    assert stored(exists["request_id"]).cause == "duplicate"
    assert stored(stale["request_id"]).cause == "stale_version"
    assert stored(stale["request_id"]).cause_reason == (
        '412 on a PUT that sent If-Match: "v1" (it did not match)'
    )


def test_a_stale_version_is_not_linked_to_the_write_that_changed_the_version(post_logs, shop):
    """As docs/conflicts.md says: the version a stale write sent explains it; only 409s no
    earlier rule explains (and create-only PUTs) get a race winner."""
    winner = rec(0, "PUT", "/v1/orders/42", 200, "billing", request_headers={"If-Match": '"v6"'})
    lost = rec(0.3, "PUT", "/v1/orders/42", 412, "mobile", request_headers={"If-Match": '"v6"'})
    post_logs([winner, lost])
    row = stored(lost["request_id"])
    assert (row.cause, row.race_winner) == ("stale_version", None)


def test_a_put_by_a_client_new_to_the_resource_is_a_create(post_logs, shop):
    winner = rec(0, "PUT", "/db/doc-9", 200, "billing")
    lost = rec(0.3, "PUT", "/db/doc-9", 409, "mobile")
    post_logs([winner, lost])
    row = stored(lost["request_id"])
    assert row.cause == "duplicate"
    assert "had neither read nor written /db/doc-9" in row.cause_reason
    assert row.race_winner.request_id == winner["request_id"]


def test_a_put_by_a_client_that_read_the_resource_is_an_update_in_any_batch_order(post_logs, shop):
    read = rec(-60, "GET", "/db/doc-9", 200, "mobile")
    winner = rec(0, "PUT", "/db/doc-9", 200, "billing")
    lost = rec(0.3, "PUT", "/db/doc-9", 409, "mobile")
    post_logs([winner, lost])
    assert stored(lost["request_id"]).cause == "duplicate"
    post_logs([read])  # the client's earlier read comes late
    row = stored(lost["request_id"])
    assert row.cause == "concurrent_write"
    causes = StatusRollup.objects.filter(project=shop, status=409, n__gt=0)
    assert list(causes.values_list("cause", flat=True)) == ["concurrent_write"]


def test_a_put_that_lost_to_a_201_is_a_create(post_logs, shop):
    read = rec(-60, "GET", "/db/doc-9", 404, "mobile")
    winner = rec(0, "PUT", "/db/doc-9", 201, "billing")
    lost = rec(0.3, "PUT", "/db/doc-9", 409, "mobile")
    post_logs([read, winner, lost])
    row = stored(lost["request_id"])
    assert row.cause == "duplicate"
    assert "(201 Created)" in row.cause_reason


def test_another_create_is_not_the_retry_of_a_duplicate_post(post_logs, shop):
    dup = rec(0, "POST", "/v1/orders", 409, "mobile", request_bytes=300)
    other = rec(5, "POST", "/v1/orders", 201, "mobile", request_bytes=420)
    post_logs([dup, other])
    finalize_pending(now=T0 + RETRY_HORIZON * 2)
    assert stored(dup["request_id"]).retry_outcome == "abandoned"


def test_the_same_create_again_is_the_retry(post_logs, shop):
    dup = rec(0, "POST", "/v1/orders", 409, "mobile", request_bytes=300)
    other = rec(2, "POST", "/v1/orders", 201, "mobile", request_bytes=420)
    again = rec(5, "POST", "/v1/orders", 409, "mobile", request_bytes=300)
    keyed = rec(10, "POST", "/v1/pay", 409, "web", request_headers={"Idempotency-Key": "k1"})
    keyed_again = rec(11, "POST", "/v1/pay", 201, "web", request_headers={"Idempotency-Key": "k1"})
    post_logs([dup, other, again, keyed, keyed_again])
    assert stored(dup["request_id"]).retry_outcome == "retried"
    assert stored(keyed["request_id"]).retry_outcome == "resolved"


@pytest.mark.parametrize("keyed", [True, False])
def test_a_create_no_longer_pending_is_taken_up_by_its_late_retry_only(post_logs, shop, keyed):
    key = {"request_headers": {"Idempotency-Key": "k1"}} if keyed else {}
    dup = rec(0, "POST", "/v1/pay", 409, "web", request_bytes=300, **key)
    post_logs([dup, rec(2, "GET", "/v1/pay", 200, "web")])
    finalize_pending(now=T0 + RETRY_HORIZON * 2)
    assert stored(dup["request_id"]).retry_outcome == "abandoned"
    other = {"request_headers": {"Idempotency-Key": "k2"}} if keyed else {}
    post_logs([rec(3, "POST", "/v1/pay", 201, "web", request_bytes=420, **other)])
    assert stored(dup["request_id"]).retry_outcome == "abandoned"
    post_logs([rec(4, "POST", "/v1/pay", 201, "web", request_bytes=300, **key)])  # late retry
    assert stored(dup["request_id"]).retry_outcome == "resolved"
    assert stored(dup["request_id"]).resolved_after_ms == 4000.0


def test_version_signals_read_headers_before_parameters():
    signals = VersionSignals(("if-match", "x-if-match"), ("rev", "version"))
    assert str(signals.sent({"x-if-match": "7"}, "rev=1")) == "X-If-Match: 7"
    assert str(signals.sent({}, "a=1&version=9")) == "?version=9"
    assert signals.sent({}, "revision=1") is None
    verdict = classify(
        method="DELETE",
        status=409,
        request_headers={},
        response_headers={},
        body=None,
        query="rev=2-x",
        signals=signals,
    )
    assert verdict.reason == "409 on a DELETE that sent ?rev=2-x"
