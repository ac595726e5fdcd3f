"""Dashboard pages: what they show, who may see them, and their empty states."""

import re
from datetime import timedelta
from urllib.parse import urlencode

import pytest

from ingest.models import Request
from tests.records import BASE, record


@pytest.fixture
def raced(post_logs):
    """billing wins a PATCH of /v1/orders/7, acme loses it a second later, then retries."""
    post_logs(
        [
            record(1, method="PATCH", path="/v1/orders/7", status=200, client="billing"),
            record(2, method="PATCH", path="/v1/orders/7", status=409, client="acme"),
            record(5, method="PATCH", path="/v1/orders/7", status=200, client="acme"),
            record(6, method="GET", path="/v1/orders/8", status=200, client="acme"),
        ]
    )


def test_the_resource_page_shows_who_wrote_and_who_lost(client, alice, raced):
    client.force_login(alice)
    response = client.get("/p/shop/resource/", {"r": "/v1/orders/7"})
    assert response.status_code == 200
    history = response.context["rows"]
    assert [(r.client, r.status) for r in history] == [
        ("acme", 200),
        ("acme", 409),
        ("billing", 200),
    ]
    assert response.context["writers"] == ["acme", "billing"]
    assert response.context["losers"] == ["acme"]
    loser = Request.objects.get(status=409)
    assert loser.race_winner.client == "billing"
    assert f"/p/shop/requests/{loser.race_winner_id}/" in response.content.decode()


def test_the_resource_page_pages_through_a_long_history(client, alice, post_logs):
    post_logs([record(i, path="/v1/orders/9") for i in range(120)])
    client.force_login(alice)
    first = client.get("/p/shop/resource/", {"r": "/v1/orders/9"})
    assert len(first.context["rows"]) == 50
    seen = {r.id for r in first.context["rows"]}
    second = client.get(
        "/p/shop/resource/", {"r": "/v1/orders/9", "before": first.context["next_cursor"]}
    )
    assert len(second.context["rows"]) == 50
    assert seen.isdisjoint(r.id for r in second.context["rows"])
    third = client.get(
        "/p/shop/resource/", {"r": "/v1/orders/9", "before": second.context["next_cursor"]}
    )
    assert len(third.context["rows"]) == 20
    assert third.context["next_cursor"] is None


@pytest.mark.parametrize(
    "url",
    [
        "/p/shop/",
        "/p/shop/resource/?r=/v1/orders/7",
        "/p/shop/endpoints/{endpoint}/",
        "/p/shop/requests/{request}/",
    ],
)
def test_charlie_gets_404_on_every_page_of_a_project_he_is_not_in(client, charlie, raced, url):
    client.force_login(charlie)
    row = Request.objects.first()
    response = client.get(url.format(endpoint=row.endpoint_id, request=row.id))
    assert response.status_code == 404


@pytest.mark.parametrize(
    "url",
    ["/p/shop/requests/{past}/", "/p/shop/requests/999999999/", "/p/shop/endpoints/999999/"],
)
def test_a_missing_page_has_the_layout_a_title_and_a_way_back(client, alice, raced, post_logs, url):
    pruned = Request.objects.get(path="/v1/orders/8")
    pruned.delete()
    post_logs([record(20, path="/v1/later")])
    client.force_login(alice)
    response = client.get(url.format(past=pruned.id))
    assert response.status_code == 404
    html = response.content.decode()
    assert "<title>Not found · ConflictWatch</title>" in html
    assert 'href="/"' in html and 'href="/static/monitor/css/app.css"' in html


@pytest.mark.parametrize(
    "url",
    [
        "/p/shop/",
        "/p/shop/endpoints/{endpoint}/",
        "/p/shop/requests/{request}/",
        "/p/shop/requests/",
        "/p/shop/client/?c=acme",
        "/p/shop/resource/?r=/v1/orders/7",
        "/p/shop/tail/",
        "/p/shop/sources/",
    ],
)
def test_every_project_page_title_names_the_project(client, alice, raced, url):
    client.force_login(alice)
    row = Request.objects.first()
    html = client.get(url.format(endpoint=row.endpoint_id, request=row.id)).content.decode()
    title = re.search(r"<title>(.*?)</title>", html, re.S).group(1)
    assert title.endswith("Shop API · ConflictWatch"), title


def test_logged_text_in_a_page_title_is_isolated(client, alice, post_logs):
    # In a tab's title, U+202E would reverse " · Shop API · ConflictWatch" after it.
    odd = "\u202eacme"
    post_logs([record(1, path=f"/v1/{odd}", client=odd)])
    client.force_login(alice)
    for url, params in (
        ("/p/shop/client/", {"c": odd}),
        ("/p/shop/resource/", {"r": f"/v1/{odd}"}),
    ):
        html = client.get(url, params).content.decode()
        title = re.search(r"<title>(.*?)</title>", html, re.S).group(1)
        assert f"&#x2068;{params.popitem()[1]}&#x2069; · Shop API" in title, title


def test_a_signed_out_visitor_is_sent_to_sign_in(client, shop):
    response = client.get("/p/shop/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_a_project_without_data_says_how_to_ship_logs(client, alice):
    client.force_login(alice)
    page = client.get("/p/shop/").content.decode()
    assert "No data yet" in page
    assert "/ingest/v1/logs" in page


def test_a_bad_custom_range_falls_back_with_a_message(client, alice, raced):
    client.force_login(alice)
    response = client.get("/p/shop/", {"from": "yesterday-ish", "to": "now"})
    assert response.status_code == 200
    assert "from: not an RFC 3339 time" in response.content.decode()


@pytest.mark.parametrize(
    "params",
    [
        {"from": "0001-01-01T00:00", "to": "0001-01-01T00:01"},
        {"from": "0999-01-01T00:00", "to": "0999-01-02T00:00"},
        {"to": "0001-01-02T00:00"},
        {"from": "9999-12-01T00:00", "to": "9999-12-31T23:59"},
    ],
)
@pytest.mark.parametrize(
    "url", ["/p/shop/?", "/p/shop/endpoints/{endpoint}/?", "/p/shop/client/?c=acme&"]
)
def test_a_custom_range_at_the_ends_of_the_calendar_falls_back_with_a_message(
    client, alice, raced, params, url
):
    client.force_login(alice)
    row = Request.objects.first()
    response = client.get(url.format(endpoint=row.endpoint_id) + urlencode(params))
    assert response.status_code == 200
    assert response.context["range_key"] == "24h"
    assert "outside the years a page shows" in response.context["range_error"]


def stat_rate(html: str) -> str:
    return re.sub(r"<[^>]+>", " ", html.split('id="stat-rate"')[1].split("</div>")[0])


def test_a_conflict_rate_over_no_requests_is_shown_as_none_not_zero(client, alice, raced):
    client.force_login(alice)
    # No request in the range: no rate at all.
    empty = client.get("/p/shop/", {"from": "-7d", "to": "-6d"}).content.decode()
    assert "0.00%" not in stat_rate(empty) and "–" in stat_rate(empty)
    # Requests now, none in the period before: the rate is new, not up from 0.00%.
    # (The records are an hour older than the test module, however long the suite ran before.)
    since = (BASE - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    now = stat_rate(client.get("/p/shop/", {"from": since, "to": "now"}).content.decode())
    assert "25.00%" in now and "new" in now and "was –" in now and "0.00%" not in now
    cards = client.get("/", {"range": "6h"}).content.decode()
    assert "pp" not in cards.split("conflict rate")[1].split("</span></span>")[0]


def test_an_empty_top_list_is_a_sentence_not_a_numbered_entry(client, alice, raced):
    client.force_login(alice)
    html = client.get("/p/shop/", {"from": "-7d", "to": "-6d"}).content.decode()
    for card in ("top-causes", "top-by-rate", "top-by-count"):
        section = html.split(f'id="{card}"')[1].split("</section>")[0]
        assert "No conflicts in this range." in section
        assert "<li" not in section, card


@pytest.mark.parametrize(
    "url", ["/p/shop/?", "/p/shop/endpoints/{endpoint}/?", "/p/shop/client/?c=acme&"]
)
def test_the_heading_says_which_range_the_page_shows(client, alice, raced, url):
    client.force_login(alice)
    row = Request.objects.first()
    page = url.format(endpoint=row.endpoint_id)
    for query, label in (
        ("range=6h", "last 6h"),
        ("from=2026-01-02T03:04Z&to=2026-01-03T03:04Z", "2026-01-02 03:04 – 2026-01-03 03:04 UTC"),
    ):
        html = client.get(page + query).content.decode()
        assert label in html.split("<h1")[1].split("</h1>")[0], (page, label)


@pytest.mark.parametrize(
    "sort, label, order",
    [
        ("route", "Endpoint", "ascending"),
        ("requests", "Requests", "descending"),
        ("conflict_rate", "Conflict rate", "descending"),
        (None, "Conflict rate", "descending"),
    ],
)
def test_the_endpoints_table_marks_the_column_it_is_sorted_by(
    client, alice, raced, sort, label, order
):
    client.force_login(alice)
    html = client.get("/p/shop/", {"sort": sort} if sort else {}).content.decode()
    head = html.split('id="endpoints"')[1].split("</thead>")[0]
    marked = re.findall(r'<th[^>]*aria-sort="(\w+)"[^>]*><a [^>]*>([^<]*)</a>', head)
    assert [(o, text.rstrip(" ▲▼")) for o, text in marked] == [(order, label)]


def test_a_custom_range_is_kept_in_links(client, alice, raced):
    client.force_login(alice)
    response = client.get("/p/shop/", {"from": "-2h", "to": "now"})
    html = response.content.decode()
    assert response.context["range_key"] == "custom"
    assert "from=-2h&amp;to=now" in html


def test_the_overview_lists_top_causes_offenders_and_hottest_resources(client, alice, raced):
    client.force_login(alice)
    response = client.get("/p/shop/?range=24h")
    assert response.status_code == 200
    html = response.content.decode()
    assert [o["client"] for o in response.context["offenders"]][:1] == ["acme"]
    assert response.context["hotspots"][0]["resource"] == "/v1/orders/7"
    assert response.context["top_by_count"][0]["route"] == "/v1/orders/{id}"
    assert "/p/shop/client/?range=24h&amp;c=acme" in html
    assert "/p/shop/resource/?range=24h&amp;r=%2Fv1%2Forders%2F7" in html


@pytest.mark.parametrize(
    "page", ["/p/shop/", "endpoint", "/p/shop/client/?c=acme", "/p/shop/resource/?r=/v1/orders/7"]
)
def test_a_range_ending_at_the_end_of_the_calendar_is_no_500(client, alice, raced, shop, page):
    if page == "endpoint":
        page = f"/p/shop/endpoints/{shop.endpoints.first().id}/"
    client.force_login(alice)
    joiner = "&" if "?" in page else "?"
    response = client.get(page + joiner + "to=9999-12-31T23:59:59Z")
    assert response.status_code == 200


def test_a_resource_with_a_nul_character_is_not_found(client, alice, raced):
    # No stored resource holds one (ingest replaces it); the database refuses it in a query.
    client.force_login(alice)
    assert client.get("/p/shop/resource/", {"r": "/v1/orders/\x00"}).status_code == 404


def test_an_incident_is_a_marker_on_the_overview_chart(client, alice, raced, shop):
    import json
    from datetime import UTC, datetime, timedelta

    from monitor.alerts.models import AlertRule, Incident

    rule = AlertRule.objects.filter(project=shop).first() or AlertRule.objects.create(
        project=shop, name="<b>409 storm</b>"
    )
    Incident.objects.create(
        rule=rule,
        opened_at=datetime.now(UTC) - timedelta(minutes=30),
        value=1,
        peak_value=1,
        threshold=0.5,
    )
    client.force_login(alice)
    html = client.get("/p/shop/").content.decode()
    data = json.loads(html.split('id="traffic-data" type="application/json">')[1].split("<")[0])
    assert [m["label"] for m in data["markers"]] == [rule.name]
    assert data["markers"][0]["until"] is None


def test_the_endpoint_page_shows_status_mix_latency_offenders_and_remedies(client, alice, raced):
    client.force_login(alice)
    ep = Request.objects.filter(status=409).first().endpoint_id
    response = client.get(f"/p/shop/endpoints/{ep}/")
    assert response.status_code == 200
    assert dict(response.context["by_status"]) == {"200": 2, "409": 1}
    names = [s["name"] for s in response.context["latency"]["series"]]
    assert names == ["p50 ms", "p95 ms", "p95 ms, previous period"]
    assert any(v is not None for v in response.context["latency"]["series"][1]["data"])
    assert response.context["latency"]["series"][2]["role"] == "previous"
    assert [r["cause"] for r in response.context["remedies"]] == ["concurrent_write"]
    assert response.context["hotspots"][0]["race_pairs"][0]["winner"] == "billing"
    evidence = response.context["remedies"][0]["evidence"]
    assert "/v1/orders/7: billing beat acme 1 times." in evidence


def test_the_endpoint_pages_remedies_match_the_apis(client, alice, raced, settings):
    """The page hands its hotspots to the remedies; the API ranks them itself: same answer."""
    client.force_login(alice)
    ep = Request.objects.filter(status=409).first().endpoint_id
    page = client.get(f"/p/shop/endpoints/{ep}/").context["remedies"]
    api = client.get("/api/v1/projects/shop/remedies/", {"endpoint": ep, "from": "-24h"})
    assert api.status_code == 200
    assert api.json() == page


def test_the_client_page_takes_any_client_id_and_shows_caused_and_suffered(
    client, alice, post_logs
):
    odd = "team/a b?&<x>"
    post_logs(
        [
            record(1, method="PATCH", path="/v1/orders/7", status=200, client="billing"),
            record(2, method="PATCH", path="/v1/orders/7", status=409, client=odd),
            record(5, method="PATCH", path="/v1/orders/7", status=200, client=odd),
        ]
    )
    client.force_login(alice)
    response = client.get("/p/shop/client/", {"c": odd})
    assert response.status_code == 200
    assert response.context["stats"]["suffered"] == 1
    assert [r.status for r in response.context["rows"]] == [200, 409]
    assert [r.status for r in response.context["conflicts"]] == [409]
    assert response.context["lost_to"] == [("billing", 1)]
    assert sum(response.context["outcomes"]["concurrent_write"].values()) == 1
    billing = client.get("/p/shop/client/", {"c": "billing"})
    assert billing.context["stats"]["caused"] == 1
    assert billing.context["beat"] == [(odd, 1)]
    assert "&lt;x&gt;" in billing.content.decode()
    assert client.get("/p/shop/client/").status_code == 404


def test_the_explorer_says_once_why_its_list_is_empty(client, alice, shop, post_logs):
    client.force_login(alice)

    def empty_text(params) -> str:
        html = client.get("/p/shop/requests/", params).content.decode()
        assert html.count("No request") <= 1, html
        return html

    assert "No data yet" in empty_text({})
    post_logs([record(i, status=200) for i in range(3)])
    assert "No request matches these filters" in empty_text({"status": "500"})
    # A cursor past the oldest (or newest) request: the list ended, the requests still match.
    beyond = empty_text({"before": "1.1"})
    assert "3</strong> requests match" in beyond
    assert "past the end of the list" in beyond
    assert "past the end of the list" in empty_text({"after": "9999999999999999.1"})


@pytest.mark.parametrize(
    "url", ["/p/shop/client/?c=acme&range=24h", "/p/shop/resource/?r=/v1/orders/7&range=24h"]
)
def test_a_history_page_past_its_end_says_so_and_links_the_newest(client, alice, raced, url):
    client.force_login(alice)
    html = client.get(url + "&before=1.1").content.decode()
    assert "past the end of the list" in html
    newest = re.search(r'<a id="newest" href="([^"]*)"', html).group(1).replace("&amp;", "&")
    assert newest.startswith("?") and "before=" not in newest
    assert client.get(url.split("?")[0] + newest).context["rows"]


def test_the_explorer_filters_pages_and_links_the_same_filters_to_csv(client, alice, post_logs):
    post_logs(
        [record(i, path=f"/v1/orders/{i}", status=(200, 409)[i % 2]) for i in range(120)]
        + [record(500, path="/v2/other", status=409)]
    )
    client.force_login(alice)
    first = client.get("/p/shop/requests/", {"status": "409", "path": "/v1/"})
    assert first.status_code == 200
    assert len(first.context["rows"]) == 50
    assert {r.status for r in first.context["rows"]} == {409}
    second = client.get(
        "/p/shop/requests/",
        {"status": "409", "path": "/v1/", "before": first.context["next_cursor"]},
    )
    assert len(second.context["rows"]) == 10
    assert second.context["next_cursor"] is None
    csv_url = first.context["csv_url"]
    assert csv_url.startswith("/api/v1/projects/shop/export/requests.csv?status=409&path=%2Fv1%2F")
    export = client.get(csv_url)
    assert export.status_code == 200
    assert len(b"".join(export.streaming_content).decode().strip().splitlines()) == 61


@pytest.mark.parametrize(
    "params,message",
    [
        ({"status": "abc"}, "status:"),
        ({"status": "999"}, "status:"),
        ({"cause": "nope"}, "cause:"),
        ({"endpoint": "-1"}, "endpoint:"),
        ({"client": "a\x00b"}, "client:"),
    ],
)
def test_a_bad_explorer_filter_shows_a_clear_message(client, alice, raced, params, message):
    client.force_login(alice)
    response = client.get("/p/shop/requests/", params)
    assert response.status_code == 200
    assert any(e.startswith(message) for e in response.context["errors"])
    assert response.context["rows"] == []


def test_a_request_links_to_its_resource_over_the_hour_around_it(client, alice, raced):
    client.force_login(alice)
    loser = Request.objects.get(status=409)
    html = client.get(f"/p/shop/requests/{loser.id}/").content.decode()
    links = re.findall(r'href="(/p/shop/resource/\?[^"]*)"', html)
    assert links
    resource = client.get(links[0].replace("&amp;", "&"))
    assert resource.context["resource"] == "/v1/orders/7"
    assert loser.id in {r.id for r in resource.context["rows"]}


def test_a_client_named_with_a_bidi_override_is_isolated_in_the_race_sentence(
    client, alice, post_logs
):
    winner = "\u202ebilling"
    post_logs(
        [
            record(1, method="PATCH", path="/v1/orders/7", status=200, client=winner),
            record(2, method="PATCH", path="/v1/orders/7", status=409, client="acme"),
        ]
    )
    client.force_login(alice)
    loser = Request.objects.get(status=409)
    html = client.get(f"/p/shop/requests/{loser.id}/").content.decode()
    sentence = html.split('id="race-winner"')[1].split("</p>")[0]
    # The winner is a link to its client page (links are isolated by the stylesheet).
    assert re.search(
        r'by <a class="client" href="/p/shop/client/\?[^"]*c=%E2%80%AEbilling"', sentence
    )


def test_the_request_page_breadcrumb_ends_with_the_request(client, alice, raced):
    client.force_login(alice)
    row = Request.objects.first()
    html = client.get(f"/p/shop/requests/{row.id}/").content.decode()
    crumbs = re.sub(r"<[^>]+>", "", html.split('class="crumbs"')[1].split("</p>")[0])
    assert crumbs.strip().endswith(f"› request {row.id}"), crumbs


def test_copy_as_curl_is_quoted_and_has_only_request_headers(client, alice, post_logs):
    post_logs(
        [
            record(
                1,
                method="PUT",
                path="/v1/orders/7'; rm -rf /",
                status=200,
                request_headers={"If-Match": '"v1"', "Authorization": "Bearer secret"},
                response_headers={"ETag": '"v2"'},
            )
        ]
    )
    client.force_login(alice)
    row = Request.objects.get()
    curl = client.get(f"/p/shop/requests/{row.id}/").context["curl"]
    import shlex

    argv = shlex.split(curl)
    assert argv[:3] == ["curl", "-X", "PUT"]
    assert argv[3].endswith("/v1/orders/7'; rm -rf /")
    assert argv[4:] == ["-H", 'if-match: "v1"']
    assert "secret" not in curl and "etag" not in curl


def test_a_project_admin_creates_an_ingest_token_once(client, alice, shop):
    from ingest.models import Source
    from monitor.models import Membership

    Membership.objects.filter(user=alice, project=shop).update(role=Membership.Role.ADMIN)
    client.force_login(alice)
    assert 'id="new-token"' in client.get("/p/shop/").content.decode()
    assert client.get("/p/shop/sources/new/").status_code == 405
    response = client.post("/p/shop/sources/new/", {"name": "edge"})
    assert response.status_code == 200
    token = response.context["token"]
    assert token and token in response.content.decode()
    assert response["Cache-Control"].startswith("max-age=0")
    assert Source.objects.filter(project=shop, name="edge").exists()
    again = client.post("/p/shop/sources/new/", {"name": "edge"})
    assert again.status_code == 400 and "already exists" in again.content.decode()


def test_a_member_who_is_not_admin_gets_no_token_button(client, alice, shop):
    from monitor.models import Membership

    Membership.objects.filter(user=alice, project=shop).update(role=Membership.Role.VIEWER)
    client.force_login(alice)
    assert 'id="new-token"' not in client.get("/p/shop/").content.decode()
    assert client.post("/p/shop/sources/new/", {"name": "edge"}).status_code == 403


def test_the_client_page_of_a_client_without_requests_in_range_is_empty_not_an_error(
    client, alice, raced
):
    client.force_login(alice)
    response = client.get("/p/shop/client/", {"c": "nobody"})
    assert response.status_code == 200
    assert response.context["stats"] is None
    assert "No conflicts for this client in this range." in response.content.decode()
