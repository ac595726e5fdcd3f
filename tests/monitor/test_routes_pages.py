"""The settings page (admins only) and the routes page: each setting is saved or its error
shown beside it; members read the routes, admins change them; outsiders get 404."""

import pytest
from django.urls import reverse

from monitor.models import Endpoint, Membership, Project, RouteRule
from tests.records import record


@pytest.fixture
def alice_client(client, alice):
    client.force_login(alice)
    return client


def settings_form(**changes) -> dict:
    form = {
        "name": "Shop API",
        "route_patterns": "/v1/orders/{id}\n/v1/orders/{id}/items/{item}",
        "max_endpoints": "2000",
        "route_learning_threshold": "100",
        "race_window_s": "5",
        "version_params": "rev, _rev",
        "version_headers": "if-match",
        "phrases_lock": "in use\nbusy",
        "extra_headers": "x-tenant",
        "secret_headers": "",
    }
    form.update(changes)
    return form


def test_an_admin_saves_every_setting(alice_client):
    url = reverse("project-settings", args=["shop"])
    answer = alice_client.post(url, settings_form(), follow=True)
    assert answer.status_code == 200
    assert b"Settings saved." in answer.content
    project = Project.objects.get(slug="shop")
    assert project.route_patterns == ["/v1/orders/{id}", "/v1/orders/{id}/items/{item}"]
    assert project.version_params == ["rev", "_rev"]
    assert project.conflict_phrases == {"lock": ["in use", "busy"]}
    assert project.extra_headers == ["x-tenant"]


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"race_window_s": "soon"}, "race_window_s: &#x27;soon&#x27; is not a number"),
        ({"race_window_s": "9000"}, "race_window_s: 9000.0 is out of range"),
        ({"max_endpoints": "3"}, "max_endpoints: 3 is out of range (20 to 100000)"),
        ({"route_patterns": "orders/{id}"}, "route_patterns[0]: &#x27;orders/{id}&#x27; does"),
        ({"extra_headers": "cookie"}, "extra_headers: &#x27;cookie&#x27; carries credentials"),
    ],
)
def test_a_bad_setting_is_shown_beside_its_field(alice_client, changes, error):
    answer = alice_client.post(reverse("project-settings", args=["shop"]), settings_form(**changes))
    assert answer.status_code == 200  # the form again, as Django forms answer
    assert error.encode() in answer.content
    assert b'class="error field-error"' in answer.content
    assert Project.objects.get(slug="shop").route_patterns == []


def test_only_admins_see_the_settings_page(client, bob, charlie):
    url = reverse("project-settings", args=["shop"])
    client.force_login(bob)
    assert client.get(url).status_code == 403
    assert client.post(url, settings_form(name="x")).status_code == 403
    assert client.get(reverse("routes", args=["shop"])).status_code == 200
    assert (
        client.post(reverse("routes-declare", args=["shop"]), {"template": "/x"}).status_code == 403
    )
    client.force_login(charlie)
    assert client.get(url).status_code == 404
    assert client.get(reverse("routes", args=["shop"])).status_code == 404
    assert Project.objects.get(slug="shop").name == "Shop API"


def test_the_routes_page_lists_sources_tests_paths_and_escapes_them(alice_client, post_logs):
    post_logs(
        [
            record(1, path="/v1/orders/42"),
            record(2, path="/<script>alert(1)</script>/x", route="/<b>gw</b>"),
        ]
    )
    alice_client.post(reverse("routes-declare", args=["shop"]), {"template": "/v1/items/{sku}"})
    page = alice_client.get(reverse("routes", args=["shop"]) + "?path=/v1/items/abc")
    html = page.content.decode()
    assert "/v1/orders/{id}" in html and "derived" in html
    assert "&lt;b&gt;gw&lt;/b&gt;" in html and "<b>gw</b>" not in html
    assert 'id="test-result"' in html and "/v1/items/{sku}" in html


def test_removing_a_learned_rule_from_the_page(alice_client, shop):
    rule = RouteRule.objects.create(
        project=shop, source="learned", template="/docs/{doc}", parent="/docs"
    )
    answer = alice_client.post(reverse("routes-remove", args=["shop", rule.id]), follow=True)
    assert b"will not be learned again" in answer.content
    rule.refresh_from_db()
    assert rule.removed_at is not None


def test_a_merged_endpoint_page_leads_to_the_endpoint_it_was_merged_into(alice_client, shop):
    new = Endpoint.objects.create(project=shop, method="GET", route="/docs/{doc}")
    old = Endpoint.objects.create(project=shop, method="GET", route="/docs/a", merged_into=new)
    answer = alice_client.get(reverse("endpoint", args=["shop", old.id]))
    assert answer.status_code == 302
    assert answer["Location"] == reverse("endpoint", args=["shop", new.id])


def test_the_overview_says_when_endpoints_overflowed(alice_client, shop, post_logs):
    shop.max_endpoints = 20
    shop.save()
    post_logs([record(i, path=f"/junk/w{chr(97 + i % 26)}x{i}") for i in range(40)])
    html = alice_client.get(reverse("overview", args=["shop"])).content.decode()
    assert 'id="overflow-note"' in html
    assert "Declare route patterns" in html


def test_a_viewer_sees_no_settings_link(client, bob):
    Membership.objects.filter(user=bob).update(role=Membership.Role.VIEWER)
    client.force_login(bob)
    html = client.get(reverse("routes", args=["shop"])).content.decode()
    assert 'id="declare"' not in html
    assert reverse("project-settings", args=["shop"]) not in html
