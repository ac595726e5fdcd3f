"""What the incident dashboard reads, checked against the raw records: the comparison with the
previous period, the explorer's match count, the live tail's cursor, the default range, the
project cards, and the status and limit parameters of the API."""

from datetime import UTC, datetime, timedelta

import pytest

from ingest.models import IngestBatch, Request
from monitor.models import Project
from monitor.reads import requests as reads
from monitor.reads import totals
from monitor.reads.timerange import TimeRange
from monitor.views.ranges import fitting_preset
from tests.records import record

NOW = datetime.now(UTC).replace(second=30, microsecond=0)


def at(minutes_ago: float, **fields) -> dict:
    ts = NOW - timedelta(minutes=minutes_ago)
    return record(**fields) | {"ts": ts.isoformat().replace("+00:00", "Z")}


@pytest.fixture
def two_hours(post_logs):
    """The hour before (calm) and the last hour (conflicting), on three endpoints."""
    records = []
    for i in range(40):
        records.append(at(100 - i, request_id=f"b{i}", status=(200, 200, 200, 409)[i % 4]))
        records.append(at(95 - i, request_id=f"bp{i}", method="PUT", path=f"/v1/orders/{i}"))
    for i in range(50):
        status = (200, 409, 412, 500, 404)[i % 5]
        records.append(at(45 - i / 2, request_id=f"a{i}", status=status, path=f"/v1/items/{i}"))
        records.append(at(44 - i / 2, request_id=f"ap{i}", method="PUT", path=f"/v1/orders/{i}"))
    post_logs(records)
    return records


def raw(records, lo, hi, endpoint=None):
    picked = [
        r
        for r in records
        if lo <= datetime.fromisoformat(r["ts"].replace("Z", "+00:00")) < hi
        and (endpoint is None or endpoint(r))
    ]
    conflicts = sum(1 for r in picked if r["status"] in (409, 412, 423, 428))
    return len(picked), conflicts


def test_the_comparison_is_the_previous_period_as_the_raw_rows_count_it(shop, two_hours):
    rng = TimeRange(NOW - timedelta(hours=1), NOW)
    summary, endpoints = totals.compared(shop, rng)
    # Rollups count whole minutes from the range's first one; the hour before ends there.
    start = rng.start.replace(second=0)
    requests, conflicts = raw(two_hours, start, rng.end)
    before_requests, before_conflicts = raw(two_hours, start - rng.span, start)
    assert (summary["requests"], summary["conflicts"]) == (requests, conflicts)
    assert summary["previous"]["requests"] == before_requests
    assert summary["previous"]["conflicts"] == before_conflicts
    assert summary["previous"]["conflict_rate"] == pytest.approx(
        before_conflicts / before_requests, abs=1e-6
    )
    by_route = {(e["method"], e["route"]): e for e in endpoints}
    put = by_route[("PUT", "/v1/orders/{id}")]
    assert (
        put["previous"]["requests"]
        == raw(two_hours, start - rng.span, start, lambda r: r["method"] == "PUT")[0]
    )
    # An endpoint new in this hour has nothing to compare with.
    assert by_route[("GET", "/v1/items/{id}")]["previous"] is None
    # The page's two calls agree with the API's.
    assert totals.summary(shop, rng) == {k: v for k, v in summary.items() if k != "previous"}


def test_the_project_cards_count_the_last_day_and_the_day_before(shop, two_hours):
    rng = TimeRange(NOW - timedelta(hours=24), NOW + timedelta(minutes=1))
    figures = totals.by_project([shop, Project.objects.create(slug="idle", name="Idle")], rng)
    assert figures[shop.id]["requests"] == len(two_hours)
    assert figures[shop.id]["conflicts"] == raw(two_hours, rng.start, rng.end)[1]
    assert figures[shop.id]["previous"]["requests"] == 0
    assert figures[Project.objects.get(slug="idle").id]["requests"] == 0


@pytest.mark.parametrize(
    "chosen",
    [
        {},
        {"status": "4xx"},
        {"status": "409"},
        {"conflicts": "1"},
        {"method": "GET", "conflicts": "1"},
        {"client": "acme"},
        {"client": "acme", "conflicts": "true"},
        {"path": "/v1/items/"},
        {"endpoint": "ENDPOINT"},
        {"endpoint": "ENDPOINTe0", "status": "2xx"},
    ],
)
def test_the_match_count_is_the_number_of_raw_rows_the_filters_select(shop, two_hours, chosen):
    from monitor.api.filters import YES, RequestFilter

    if "endpoint" in chosen:
        put = shop.endpoints.get(method="PUT").id
        chosen = {**chosen, "endpoint": chosen["endpoint"].replace("ENDPOINT", str(put))}
    # A range with ragged ends: seconds into its first and last minutes.
    rng = TimeRange(NOW - timedelta(minutes=70, seconds=13), NOW - timedelta(minutes=20, seconds=7))
    fs = RequestFilter(chosen, queryset=reads.in_range(shop, rng))
    assert fs.is_valid(), fs.errors
    count = reads.count_matching(
        shop, rng, chosen, fs.qs, conflicts_only=chosen.get("conflicts", "") in YES
    )
    assert count == reads.Count(fs.qs.count(), True)
    assert count.n > 0


def test_the_explorer_pages_back_to_newer_rows(shop, two_hours):
    rng = TimeRange(NOW - timedelta(hours=3), NOW + timedelta(minutes=1))
    qs = reads.in_range(shop, rng)
    first, older, newer = reads.page(qs, limit=20)
    assert newer is None and older is not None
    second, _, back = reads.page(qs, before=older, limit=20)
    assert {r.id for r in first}.isdisjoint(r.id for r in second)
    again, _, _ = reads.page(qs, after=back, limit=20)
    assert [r.id for r in again] == [r.id for r in first]


def test_the_tail_shows_a_batch_that_commits_after_a_newer_one(shop, post_logs):
    post_logs([at(1, request_id="first")])
    old = IngestBatch.objects.get()
    IngestBatch.objects.filter(id=old.id).update(received_at=NOW - timedelta(minutes=5))
    rows, cursor = reads.tail_start(reads.project_requests(shop), datetime.now(UTC))
    assert [r.request_id for r in rows] == ["first"] and cursor == old.id
    # Two more batches; the newer one is seen first, as when the older commits late: the
    # cursor does not pass the older one while it is recent, so it still shows.
    post_logs([at(0.5, request_id="late")])
    post_logs([at(0.4, request_id="early")])
    late_batch = Request.objects.get(request_id="late").batch_id
    hidden = reads.project_requests(shop).exclude(batch_id=late_batch)
    rows, cursor, more = reads.tail_since(hidden, cursor, datetime.now(UTC))
    assert [r.request_id for r in rows] == ["early"] and not more
    assert cursor == old.id
    rows, cursor, _ = reads.tail_since(reads.project_requests(shop), cursor, datetime.now(UTC))
    assert {r.request_id for r in rows} == {"late", "early"}


@pytest.mark.parametrize(
    ("minutes", "preset"), [(None, "24h"), (30, "1h"), (59, "1h"), (90, "6h"), (20 * 60, "24h")]
)
def test_a_page_opens_on_the_preset_that_fits_the_history(minutes, preset):
    first = None if minutes is None else NOW - timedelta(minutes=minutes)
    assert fitting_preset(first, NOW) == preset


def test_the_overview_without_a_range_shows_the_last_hour_of_a_new_project(
    client, alice, post_logs
):
    post_logs([at(30 - i, request_id=f"n{i}") for i in range(20)])
    client.force_login(alice)
    response = client.get("/p/shop/")
    assert response.context["range_key"] == "1h"
    assert len(response.context["traffic"]["labels"]) <= 61


def test_changing_the_range_keeps_the_client_shown(client, alice, post_logs):
    post_logs([at(5, client="team/a b")])
    client.force_login(alice)
    html = client.get("/p/shop/client/", {"c": "team/a b", "range": "1h"}).content.decode()
    assert 'href="?range=6h&amp;c=team%2Fa+b"' in html
    assert client.get("/p/shop/client/?range=6h&c=team%2Fa+b").status_code == 200


@pytest.mark.parametrize("limit", ["0", "-5", "abc", "501"])
def test_a_bad_limit_is_a_400_naming_it(api, limit):
    response = api.get(f"/api/v1/projects/shop/requests/?limit={limit}")
    assert response.status_code == 400
    assert response.json()["error"].startswith("limit:")


@pytest.mark.parametrize("status", ["4x", "xx", "6xx", "99", "4xx5"])
def test_a_bad_status_says_what_is_expected(api, status):
    for view in ("requests/", "summary/", "export/requests.csv", "conflicts/"):
        response = api.get(f"/api/v1/projects/shop/{view}?status={status}")
        assert response.status_code == 400, view
        error = response.json()["error"]
        assert error.startswith("status:") and "class such as 4xx" in error, error


def test_a_status_class_filters_alike_in_the_api_the_export_and_the_explorer(
    api, client, alice, two_hours
):
    fours = [r for r in two_hours if 400 <= r["status"] < 500]
    window = "from=-3h&to=%2B1h".replace("%2B1h", "now")
    listed = api.get(f"/api/v1/projects/shop/requests/?status=4xx&limit=500&{window}").json()
    assert len(listed["results"]) == len(fours)
    summary = api.get(f"/api/v1/projects/shop/summary/?status=4xx&{window}").json()
    assert summary["requests"] == len(fours)
    csv = api.get(f"/api/v1/projects/shop/export/requests.csv?status=4xx&{window}")
    assert len(b"".join(csv.streaming_content).decode().strip().splitlines()) == len(fours) + 1
    client.force_login(alice)
    page = client.get(f"/p/shop/requests/?status=4xx&{window}")
    assert page.context["total"].n == len(fours)
    assert all(400 <= r.status < 500 for r in page.context["rows"])


def test_a_previous_line_read_per_hour_is_shared_among_its_buckets_and_keeps_its_total():
    from monitor.reads.charts import previous_step, spread
    from monitor.rules.timebuckets import HOUR

    day = TimeRange(NOW - timedelta(hours=24), NOW)
    assert previous_step(day) == HOUR
    assert previous_step(TimeRange(NOW - timedelta(hours=1), NOW)) == timedelta(minutes=1)
    hour = NOW.replace(minute=0, second=0)
    shared = spread({hour: 10}, HOUR, timedelta(minutes=15))
    assert shared == {hour + timedelta(minutes=15 * i): 2.5 for i in range(4)}


@pytest.mark.parametrize("span", [timedelta(hours=1), timedelta(hours=24), timedelta(days=7)])
def test_the_comparison_and_the_charts_read_both_periods_in_a_fixed_number_of_queries(
    shop, two_hours, span, django_assert_num_queries
):
    from monitor.reads import charts

    # A week is read in minute, hour and day pieces for each period: still one statement per
    # rollup for both periods (and the endpoints' names), one for the two traffic charts.
    rng = TimeRange(NOW - span, NOW)
    with django_assert_num_queries(3):
        summary, endpoints = totals.compared(shop, rng)
    assert summary["requests"] and endpoints
    with django_assert_num_queries(1):
        charts.traffic_and_causes(shop, rng)
