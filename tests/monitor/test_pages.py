"""Dashboard pages: what they show, who may see them, and their empty states."""

import pytest

from ingest.models import Request
from tests.records import record


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


def test_a_custom_range_is_kept_in_links(client, alice, raced):
    client.force_login(alice)
    response = client.get("/p/shop/", {"from": "-2h", "to": "now"})
    html = response.content.decode()
    assert response.context["range_key"] == "custom"
    assert "from=-2h&amp;to=now" in html
