"""conflicts/, conflicts/{id}/, offenders/, hotspots/, remedies/ and the request page: a
conflict's cause and reason, its resource, the racing request and what the client did next."""

import pytest

from ingest.models import Request
from tests.monitor.conflict_records import rec

BASE = "/api/v1/projects/shop/"
WINDOW = {"from": "-3h"}


@pytest.fixture
def story(post_logs):
    """billing wins a PATCH of /v1/orders/7; mobile loses it, refetches and retries; web
    resends a stale If-Match twice; a lock on /v1/orders/9."""
    records = [
        rec(0, "PATCH", "/v1/orders/7", 200, "billing"),
        rec(1.5, "PATCH", "/v1/orders/7", 409, "mobile", response_body="changed meanwhile"),
        rec(2, "GET", "/v1/orders/7", 200, "mobile"),
        rec(3, "PATCH", "/v1/orders/7", 200, "mobile"),
        rec(10, "PUT", "/v1/orders/8", 412, "web", request_headers={"If-Match": '"v1"'}),
        rec(11, "PUT", "/v1/orders/8", 412, "web", request_headers={"If-Match": '"v1"'}),
        rec(20, "PUT", "/v1/orders/9", 409, "mobile", response_headers={"Retry-After": "2"}),
        rec(22.5, "PUT", "/v1/orders/9", 200, "mobile"),
        rec(30, "POST", "/v1/orders", 201, "web"),
    ]
    # Delivered loser first, winner later: the link is made across batches.
    post_logs(records[1:])
    post_logs(records[:1])
    return {r["request_id"]: Request.objects.get(request_id=r["request_id"]).id for r in records}


def by_request_id(results: list[dict]) -> dict:
    return {r["request_id"]: r for r in results}


def test_conflicts_lists_each_with_cause_reason_outcome_and_race_winner(api, story):
    response = api.get(BASE + "conflicts/", WINDOW)
    assert response.status_code == 200
    rows = by_request_id(response.json()["results"])
    assert set(rows) == {
        "mobile-PATCH-409-1.5",
        "web-PUT-412-10",
        "web-PUT-412-11",
        "mobile-PUT-409-20",
    }
    lost = rows["mobile-PATCH-409-1.5"]
    assert lost["cause"] == "concurrent_write"
    assert "billing" in lost["cause_reason"]
    assert lost["resource"] == "/v1/orders/7"
    assert lost["retry_outcome"] == "resolved"
    assert lost["resolved_after_ms"] == 1500.0
    assert lost["race_winner"]["id"] == story["billing-PATCH-200-0"]
    assert lost["race_winner"]["client"] == "billing"
    assert lost["race_winner"]["request_id"] == "billing-PATCH-200-0"
    assert rows["web-PUT-412-10"]["retry_outcome"] == "blind"
    assert rows["web-PUT-412-10"]["race_winner"] is None
    assert rows["mobile-PUT-409-20"]["cause"] == "lock"


def test_conflicts_filter_by_cause_outcome_and_resource(api, story):
    def ids(**extra):
        answer = api.get(BASE + "conflicts/", {**WINDOW, **extra})
        assert answer.status_code == 200, answer.content
        return {r["request_id"] for r in answer.json()["results"]}

    assert ids(cause="stale_version") == {"web-PUT-412-10", "web-PUT-412-11"}
    assert ids(outcome="blind") == {"web-PUT-412-10"}
    assert ids(resource="/v1/orders/9") == {"mobile-PUT-409-20"}
    assert ids(client="mobile", status=409) == {"mobile-PATCH-409-1.5", "mobile-PUT-409-20"}


def test_conflicts_page_through_with_a_cursor(api, story):
    first = api.get(BASE + "conflicts/", {**WINDOW, "limit": 3}).json()
    assert len(first["results"]) == 3
    second = api.get(first["next"]).json()
    assert len(second["results"]) == 1
    assert second["next"] is None


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"outcome": "maybe"}, "outcome:"),
        ({"cause": "gremlins"}, "cause"),
        ({"from": "yesterday-ish"}, "from:"),
    ],
)
def test_conflicts_refuse_bad_parameters_by_name(api, story, params, message):
    response = api.get(BASE + "conflicts/", params)
    assert response.status_code == 400
    assert response.json()["error"].startswith(message)


def test_a_conflicts_detail_tells_its_race_and_what_the_client_did_next(api, story):
    response = api.get(BASE + f"conflicts/{story['mobile-PATCH-409-1.5']}/")
    assert response.status_code == 200
    body = response.json()
    assert body["cause"] == "concurrent_write"
    assert body["resource"] == "/v1/orders/7"
    assert body["race_winner"]["client"] == "billing"
    assert [(n["method"], n["status"]) for n in body["next_requests"]] == [
        ("GET", 200),
        ("PATCH", 200),
    ]
    assert body["next_requests"][1]["id"] == story["mobile-PATCH-200-3"]
    blind = api.get(BASE + f"conflicts/{story['web-PUT-412-11']}/").json()
    assert blind["retry_of"]["id"] == story["web-PUT-412-10"]


def test_a_request_that_is_no_conflict_has_no_conflict_detail(api, story):
    assert api.get(BASE + f"conflicts/{story['billing-PATCH-200-0']}/").status_code == 404


def test_offenders_rank_clients_and_split_who_causes_from_who_suffers(api, story):
    response = api.get(BASE + "offenders/", WINDOW)
    assert response.status_code == 200
    rows = {r["client"]: r for r in response.json()}
    assert rows["mobile"] == {
        "client": "mobile",
        "requests": 5,
        "conflicts": 2,
        "conflict_rate": 0.4,
        "caused": 0,
        "suffered": 1,
    }
    assert rows["billing"]["caused"] == 1
    assert rows["billing"]["conflicts"] == 0
    assert rows["web"]["conflicts"] == 2
    by_caused = api.get(BASE + "offenders/", {**WINDOW, "order": "caused"}).json()
    assert by_caused[0]["client"] == "billing"
    by_rate = api.get(BASE + "offenders/", {**WINDOW, "order": "conflict_rate"}).json()
    assert by_rate[0]["client"] == "web"
    assert api.get(BASE + "offenders/", {"order": "loudest"}).status_code == 400


def test_hotspots_rank_resources_with_their_race_pairs(api, story):
    response = api.get(BASE + "hotspots/", WINDOW)
    assert response.status_code == 200
    spots = {s["resource"]: s for s in response.json()}
    assert spots["/v1/orders/8"]["conflicts"] == 2
    assert spots["/v1/orders/8"]["by_cause"] == {"stale_version": 2}
    assert spots["/v1/orders/7"]["race_pairs"] == [
        {"winner": "billing", "loser": "mobile", "races": 1}
    ]
    assert spots["/v1/orders/7"]["route"] == "/v1/orders/{id}"
    assert response.json()[0]["resource"] == "/v1/orders/8"
    assert len(api.get(BASE + "hotspots/", {**WINDOW, "limit": 1}).json()) == 1
    assert api.get(BASE + "hotspots/", {"limit": 0}).status_code == 400


def test_remedies_come_with_this_projects_evidence(api, story):
    response = api.get(BASE + "remedies/", WINDOW)
    assert response.status_code == 200
    remedies = {r["cause"]: r for r in response.json()}
    assert set(remedies) == {"concurrent_write", "stale_version", "lock"}
    assert "If-Match" in remedies["concurrent_write"]["remedy"]
    assert any("0% of its" in e for e in remedies["concurrent_write"]["evidence"])
    assert any("web (1)" in e for e in remedies["stale_version"]["evidence"])
    assert any("Locks here last about 2.5 s" in e for e in remedies["lock"]["evidence"])


@pytest.mark.parametrize("path", ["conflicts/", "offenders/", "hotspots/", "remedies/"])
def test_charlie_gets_404_on_another_projects_conflicts(client, charlie, story, path):
    client.force_login(charlie)
    assert client.get(BASE + path).status_code == 404


def test_the_conflicts_list_queries_a_fixed_number_of_times(
    api, story, django_assert_max_num_queries
):
    with django_assert_max_num_queries(8):
        assert api.get(BASE + "conflicts/", WINDOW).status_code == 200


def test_the_request_page_tells_the_conflicts_story(client, alice, story):
    client.force_login(alice)
    response = client.get(f"/p/shop/requests/{story['mobile-PATCH-409-1.5']}/")
    assert response.status_code == 200
    page = response.content.decode()
    assert response.context["story"]["race_winner"].id == story["billing-PATCH-200-0"]
    assert [r.id for r in response.context["story"]["next_requests"]] == [
        story["mobile-GET-200-2"],
        story["mobile-PATCH-200-3"],
    ]
    assert 'id="cause">concurrent_write' in page
    assert "/v1/orders/7" in page
    assert f"/p/shop/requests/{story['billing-PATCH-200-0']}/" in page
    assert f"/p/shop/requests/{story['mobile-PATCH-200-3']}/" in page
    assert "resolved after 1500 ms" in page
    winner_page = client.get(f"/p/shop/requests/{story['billing-PATCH-200-0']}/")
    assert f"/p/shop/requests/{story['mobile-PATCH-409-1.5']}/" in winner_page.content.decode()


def test_the_request_page_escapes_logged_text(client, alice, post_logs):
    post_logs([rec(0, "PUT", "/v1/orders/7", 409, "<script>x()</script>", response_body="locked")])
    client.force_login(alice)
    row = Request.objects.get()
    page = client.get(f"/p/shop/requests/{row.id}/").content.decode()
    assert "<script>x()</script>" not in page
    assert "&lt;script&gt;" in page
