"""GET and PATCH /api/v1/projects/{slug}/: every setting of DESIGN.md "Project settings",
each bad value a 400 naming the setting, writes for admins only."""

import pytest

from monitor.models import Membership, Project
from tests.api.conftest import token_client

API = "/api/v1/projects/shop/"


def patch(client, body):
    return client.patch(API, body, content_type="application/json")


def test_it_shows_every_setting_with_its_default(api):
    shown = api.get(API).json()
    assert shown["race_window_s"] == 5.0
    assert shown["version_params"] == ["rev", "_rev", "version", "if_match"]
    assert shown["version_headers"] == [
        "if-match",
        "x-if-match",
        "x-expected-version",
        "if-unmodified-since",
    ]
    assert shown["max_endpoints"] == 2000
    assert shown["route_learning_threshold"] == 100
    assert shown["route_patterns"] == []
    assert shown["conflict_phrases"] == {}
    assert shown["extra_headers"] == []
    assert shown["endpoint_limit"] == {
        "endpoints": 0,
        "max_endpoints": 2000,
        "overflowed": False,
        "overflow_endpoints": [],
        "overflow_requests_24h": 0,
        "how_to_fix": None,
    }


def test_an_admin_changes_every_setting(api):
    body = {
        "name": "Shop API v2",
        "route_patterns": ["/v1/orders/{order_id}", "/v1/orders/{order_id}/items/{item}/"],
        "conflict_phrases": {"lock": ["In Use"], "duplicate": ["already registered"]},
        "race_window_s": 2.5,
        "version_params": ["rev"],
        "version_headers": ["If-Match", "x-doc-version"],
        "extra_headers": ["X-Tenant"],
        "secret_headers": ["x-internal-key"],
        "max_endpoints": 500,
        "route_learning_threshold": 0,
    }
    answer = patch(api, body)
    assert answer.status_code == 200, answer.content
    shown = api.get(API).json()
    assert shown["name"] == "Shop API v2"
    assert shown["route_patterns"] == [
        "/v1/orders/{order_id}",
        "/v1/orders/{order_id}/items/{item}",
    ]
    assert shown["conflict_phrases"] == {"lock": ["in use"], "duplicate": ["already registered"]}
    assert shown["race_window_s"] == 2.5
    assert shown["version_headers"] == ["if-match", "x-doc-version"]
    assert shown["extra_headers"] == ["x-tenant"]
    assert shown["max_endpoints"] == 500
    assert shown["route_learning_threshold"] == 0
    project = Project.objects.get(slug="shop")
    assert project.race_window_seconds == 2.5
    assert project.routes_version == 1


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"race_window_s": 7200}, "race_window_s: 7200 is out of range (0 to 3600)"),
        ({"race_window_s": "5"}, "race_window_s: expected a number, got a string"),
        ({"race_window_s": True}, "race_window_s: expected a number, got a boolean"),
        ({"max_endpoints": 5}, "max_endpoints: 5 is out of range (20 to 100000)"),
        ({"max_endpoints": 2.5}, "max_endpoints: expected an integer, got float"),
        ({"route_learning_threshold": 3}, "route_learning_threshold: 3 is out of range"),
        ({"route_patterns": "/v1/x"}, "route_patterns: expected a list, got a string"),
        ({"route_patterns": ["/ok", "orders/{id}"]}, "route_patterns[1]: 'orders/{id}' does not"),
        ({"route_patterns": ["/a/{id"]}, "route_patterns[0]: '/a/{id': unbalanced braces"),
        ({"route_patterns": ["/a/{}"]}, "route_patterns[0]: '/a/{}': {} is not a parameter"),
        ({"route_patterns": [42]}, "route_patterns[0]: expected a string, got int"),
        ({"conflict_phrases": {"race": ["x"]}}, "conflict_phrases: 'race' is not a cause"),
        ({"conflict_phrases": ["x"]}, "conflict_phrases: expected an object"),
        (
            {"extra_headers": ["Authorization"]},
            "extra_headers: 'authorization' carries credentials",
        ),
        ({"extra_headers": ["bad header"]}, "extra_headers[0]: 'bad header' is not a header name"),
        (
            {"version_headers": ["X-If-Match", "Cookie"]},
            "version_headers: 'cookie' carries credentials",
        ),
        ({"version_params": [None]}, "version_params[0]: null is not a query parameter name"),
        ({"name": ""}, "name: expected a non-empty string"),
        ({"name": "a\x00b"}, "name: control characters are not allowed"),
        ({"colour": "red"}, "colour: not a project setting"),
    ],
)
def test_a_bad_setting_is_a_400_naming_it(api, body, named):
    answer = patch(api, body)
    assert answer.status_code == 400
    assert answer.json()["error"].startswith(named), answer.json()
    assert Project.objects.get(slug="shop").routes_version == 0


def test_a_bad_value_changes_nothing(api):
    answer = patch(api, {"name": "New name", "max_endpoints": 1})
    assert answer.status_code == 400
    assert Project.objects.get(slug="shop").name == "Shop API"


@pytest.mark.parametrize("role", [Membership.Role.VIEWER])
def test_only_admins_change_settings(bob, role):
    Membership.objects.filter(user=bob).update(role=role)
    bob_api = token_client(bob)
    assert bob_api.get(API).status_code == 200
    assert patch(bob_api, {"name": "x"}).status_code == 403
    assert Project.objects.get(slug="shop").name == "Shop API"


def test_a_non_member_gets_404(api_charlie):
    assert api_charlie.get(API).status_code == 404
    assert patch(api_charlie, {"name": "x"}).status_code == 404
