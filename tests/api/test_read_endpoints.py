"""summary/, endpoints/, timeseries/, requests/: answers, filters and their 400s."""

import base64
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest

from tests.records import BASE, record

API = "/api/v1/projects/shop/"


def test_it_lists_the_callers_projects(api, charlie):
    assert api.get("/api/v1/projects/").json() == [{"slug": "shop", "name": "Shop API"}]


def test_it_shows_a_project_with_the_callers_role(api, api_bob):
    shown = api.get(API).json()
    assert {k: shown[k] for k in ("slug", "name", "role")} == {
        "slug": "shop",
        "name": "Shop API",
        "role": "admin",
    }
    assert api_bob.get(API)["Content-Type"] == "application/json"
    assert api_bob.get(API).json()["role"] == "viewer"


def test_a_superuser_belongs_to_every_project(client, shop, django_user_model):
    root = django_user_model.objects.create_superuser("root", "root@example.com", "pw-root")
    client.force_login(root)
    assert client.get(API).json()["role"] == "admin"
    assert client.get(API + "summary/").status_code == 200


def test_it_counts_statuses_and_conflicts_in_the_summary(api, post_logs):
    post_logs(
        [
            record(1),
            record(2, status=500),
            record(3, method="POST", path="/v1/orders", status=409, response_body="exists"),
        ]
    )
    body = api.get(API + "summary/").json()
    assert body["requests"] == 3
    assert body["by_status"] == {"200": 1, "409": 1, "500": 1}
    assert body["conflicts"] == 1
    assert body["by_cause"] == {"duplicate": 1}
    assert body["conflict_rate"] == pytest.approx(1 / 3, abs=1e-6)


@pytest.mark.parametrize(
    ("query", "names"),
    [
        ("status=abc", "status"),
        ("status=99", "status"),
        ("endpoint=x", "endpoint"),
        ("endpoint=99999999999999999999999", "endpoint"),
        ("cause=gremlins", "cause"),
        ("from=yesterday", "from"),
        ("to=-3x", "to"),
        ("from=-2d&to=-3d", "from"),
        ("from=-401d", "from"),
        ("method=GE%00T", "method"),
        ("route=%2Fa%00", "route"),
    ],
)
@pytest.mark.parametrize("view", ["summary/", "endpoints/", "timeseries/", "requests/"])
def test_a_bad_filter_is_a_400_naming_the_parameter(api, view, query, names):
    response = api.get(API + view + "?" + query)
    assert response.status_code == 400, response.content
    assert response.json()["error"].startswith(names + ":")


@pytest.mark.parametrize(
    "query",
    ["client=a%00b", "request_id=%00", "path=%2Fv1%00", "status=1.5", "limit=x&status=200"],
)
def test_a_bad_request_filter_is_a_400_never_a_500(api, query):
    response = api.get(API + "requests/?" + query)
    assert response.status_code in (200, 400)
    if response.status_code == 400:
        assert response.json()["error"].split(":")[0] in query


@pytest.mark.parametrize(
    "instant",
    [
        "0001-01-01T00:00:00Z",
        "0001-01-01T00:00:00%2B01:00",
        "9999-12-31T23:59:59-01:00",
        "-999999w",
        "9999-12-31T23:59:59Z",
    ],
)
def test_an_instant_at_the_end_of_the_calendar_is_a_400_not_a_500(api, instant):
    for name in ("from", "to"):
        response = api.get(API + f"summary/?{name}={instant}")
        assert response.status_code in (200, 400), (name, instant, response.content)


def test_it_filters_requests_by_each_documented_parameter(api, post_logs):
    post_logs(
        [
            record(1, client="acme", request_id="r-1"),
            record(
                2,
                client="zeta",
                method="PUT",
                status=412,
                request_id="r-2",
                request_headers={"If-Match": '"v1"'},
            ),
            record(3, path="/v1/customers/9", request_id="r-3"),
        ]
    )

    def ids(query: str) -> set[str]:
        return {r["request_id"] for r in api.get(API + "requests/?" + query).json()["results"]}

    assert ids("client=zeta") == {"r-2"}
    assert ids("method=put") == {"r-2"}
    assert ids("status=412") == {"r-2"}
    assert ids("cause=stale_version") == {"r-2"}
    assert ids("request_id=r-3") == {"r-3"}
    assert ids("path=/v1/orders") == {"r-1", "r-2"}
    assert ids("route=/v1/customers/{id}") == {"r-3"}
    endpoint = api.get(API + "requests/?request_id=r-3").json()["results"][0]["endpoint"]
    assert ids(f"endpoint={endpoint}") == {"r-3"}
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert ids(f"from={BASE.isoformat()}&to={future}".replace("+", "%2B")) == {"r-1", "r-2", "r-3"}
    assert ids("from=-24h&to=-2h") == set()


def test_it_finds_a_request_by_the_id_it_shows_however_long(api, post_logs):
    # Usual ids are found by their dedup key, ids of 128 characters or more (cut for display
    # past that) by the index of long ids; a control character is shown (and found) replaced.
    long_id = "L" * 300
    exact = "E" * 128
    post_logs(
        [
            record(1, request_id="short"),
            record(2, request_id=long_id),
            record(3, request_id=exact),
            record(4, request_id="tab\there"),
            record(5, request_id="L" * 127),
        ]
    )
    shown = {r["request_id"] for r in api.get(API + "requests/").json()["results"]}
    cut = next(rid for rid in shown if rid.startswith("LL") and len(rid) == 128)
    odd = next(rid for rid in shown if rid.startswith("tab"))

    def ids(request_id: str) -> list[str]:
        response = api.get(API + "requests/", {"request_id": request_id})
        return [r["request_id"] for r in response.json()["results"]]

    assert ids("short") == ["short"]
    assert ids(cut) == [cut]
    assert ids(exact) == [exact]
    assert ids(odd) == [odd]
    assert ids("L" * 127) == ["L" * 127]
    assert ids("shor") == []
    assert ids(long_id) == []


def test_it_pages_requests_newest_first_with_a_cursor(api, post_logs):
    post_logs([record(i) for i in range(7)])
    first = api.get(API + "requests/?limit=4").json()
    assert [r["request_id"] for r in first["results"]] == ["req-6", "req-5", "req-4", "req-3"]
    second = api.get(first["next"]).json()
    assert [r["request_id"] for r in second["results"]] == ["req-2", "req-1", "req-0"]
    assert second["next"] is None


def test_it_shows_one_request(api, post_logs):
    post_logs([record(1, request_id="only")])
    listed = api.get(API + "requests/").json()["results"][0]
    detail = api.get(API + f"requests/{listed['id']}/").json()
    assert detail == listed
    assert api.get(API + "requests/99999999999999999999/").status_code == 404


def test_durations_show_without_float_noise(api, post_logs):
    # Caddy logs seconds: 0.000487052 s is 0.48705200000000004 ms in binary floating point.
    post_logs([record(1, duration_ms=0.000487052 * 1000, resolved_after_ms=None)])
    shown = api.get(API + "requests/").json()["results"][0]
    assert shown["duration_ms"] == 0.487052


def test_a_path_no_route_matches_answers_a_json_404(api, client):
    # Found by schemathesis: a slug with characters slugs cannot hold fell to Django's HTML page.
    for url in ["/api/v1/projects/a%20b/summary/", "/api/v1/projects/shop/requests/-1/"]:
        answer = api.get(url)
        assert answer.status_code == 404
        assert answer.json() == {"error": "not found"}
    assert "text/html" in client.get("/no/such/page/")["Content-Type"]


PAGED = ["requests/", "conflicts/", "deploys/", "incidents/"]


def _cursor(text: str) -> str:
    return quote(base64.b64encode(text.encode()).decode())


@pytest.mark.parametrize("view", PAGED)
@pytest.mark.parametrize(
    "cursor",
    [
        "abc",  # not base64
        quote("' OR 1=1--"),  # base64 only once the quote and spaces are dropped
        _cursor("o=-5"),
        _cursor("p=notadate"),  # each position below reached the query as it was
        _cursor("p=99999-12-07"),
        _cursor("p=2026-12-07 08:14:48.940000+00:00|1"),
        _cursor("p=%00"),
        _cursor("x=1"),
    ],
)
def test_a_tampered_cursor_is_a_400_naming_the_cursor(api, view, cursor):
    response = api.get(API + view + "?cursor=" + cursor)
    assert response.status_code == 400, response.content
    assert response.json()["error"].startswith("cursor:")


@pytest.mark.parametrize("view", PAGED)
@pytest.mark.parametrize("limit", ["0", "-5", "abc", "501"])
def test_a_bad_limit_is_a_400_in_every_paged_list(api, view, limit):
    response = api.get(API + view + "?limit=" + limit)
    assert response.status_code == 400, response.content
    assert response.json()["error"].startswith("limit:")


@pytest.mark.parametrize("view", PAGED)
def test_the_cursor_a_list_gives_is_accepted(api, post_logs, view):
    post_logs([record(i, status=409, method="PUT") for i in range(3)])
    first = api.get(API + view + "?limit=1").json()
    assert first["next"] is None or api.get(first["next"]).status_code == 200
    if first["next"]:
        previous = api.get(first["next"]).json()["previous"]
        assert api.get(previous).status_code == 200
