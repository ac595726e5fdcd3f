"""Tenancy: every API endpoint (found in the URL conf, so new ones are covered as they land)
and every object of project A answers 404 to project B's user and token; an ingest token
cannot read the API at all."""

import re

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from ingest.models import Source
from ingest.sources import create_source
from monitor.models import Membership, Project
from tests.api.conftest import token_client
from tests.records import record

METHODS = ("get", "post", "put", "patch", "delete")


def api_routes() -> list[tuple[str, type]]:
    """(route template, view class) of every view under /api/v1/projects/<slug>/."""
    found = []

    def walk(patterns, prefix):
        for p in patterns:
            if isinstance(p, URLResolver):
                walk(p.url_patterns, prefix + str(p.pattern))
            elif isinstance(p, URLPattern):
                route = prefix + str(p.pattern)
                if route.startswith("api/v1/projects/<slug:slug>/"):
                    found.append((route, p.callback.cls))

    walk(get_resolver().url_patterns, "")
    return found


def methods_of(view) -> list[str]:
    return [m for m in METHODS if hasattr(view, m)]


def fill(route: str, slug: str, pk=None) -> str:
    url = route.replace("<slug:slug>", slug)
    return "/" + re.sub(r"<(?:int:)?\w+>", str(pk), url)


def is_detail(route: str) -> bool:
    return route.count("<") > 1


def list_route_of(route: str) -> str:
    """The collection a detail route belongs to: the route up to its first id parameter."""
    return route[: route.index("<", route.index("<slug:slug>") + 1)]


@pytest.fixture
def project_a(alice, post_logs):
    """shop, with traffic (conflicts included) and a second source."""
    post_logs(
        [
            record(1),
            record(2, method="PUT", status=412),
            record(3, method="POST", path="/v1/orders", status=409, response_body="exists"),
        ]
    )
    create_source("shop", "second")
    return Project.objects.get(slug="shop")


@pytest.fixture
def b_clients(charlie):
    """charlie is an admin of "other" (B), through a token and through a browser session."""
    Membership.objects.filter(user=charlie).update(role=Membership.Role.ADMIN)
    client = Client()
    client.force_login(charlie)
    return {"token": token_client(charlie), "session": client}


def a_object_ids(api) -> dict[str, list[int]]:
    """Ids project A's admin sees in every collection of the API."""
    ids = {}
    for route, view in api_routes():
        if is_detail(route) or "get" not in methods_of(view):
            continue
        answer = api.get(fill(route, "shop"))
        if answer.status_code != 200 or not answer["Content-Type"].startswith("application/json"):
            continue
        body = answer.json()
        items = body.get("results", []) if isinstance(body, dict) else body
        ids[route] = [item["id"] for item in items if isinstance(item, dict) and "id" in item]
    return ids


def test_the_url_conf_has_the_endpoints_this_test_relies_on():
    routes = {route for route, _ in api_routes()}
    assert "api/v1/projects/<slug:slug>/summary/" in routes
    assert "api/v1/projects/<slug:slug>/requests/<int:pk>/" in routes
    assert "api/v1/projects/<slug:slug>/sources/<int:pk>/rotate/" in routes


def test_every_endpoint_and_object_of_a_is_404_to_bs_user_and_token(api, project_a, b_clients):
    ids = a_object_ids(api)
    assert ids["api/v1/projects/<slug:slug>/requests/"], "project A has requests to probe"
    assert len(ids["api/v1/projects/<slug:slug>/sources/"]) == 2
    sources_before = list(Source.objects.values_list("id", "token_hash", "revoked_at"))
    checked = 0
    for route, view in api_routes():
        if is_detail(route):
            # A's objects under A's slug, and under B's own slug.
            urls = [
                fill(route, slug, pk)
                for slug in ("shop", "other")
                for pk in ids.get(list_route_of(route), [])
            ]
        else:
            urls = [fill(route, "shop")]
        for url in urls:
            for method in methods_of(view):
                for how, client in b_clients.items():
                    answer = getattr(client, method)(url, {}, content_type="application/json")
                    assert answer.status_code == 404, (how, method, url, answer.status_code)
                    checked += 1
    assert checked > 50
    for client in b_clients.values():
        assert [p["slug"] for p in client.get("/api/v1/projects/").json()] == ["other"]
    assert list(Source.objects.values_list("id", "token_hash", "revoked_at")) == sources_before


def test_a_missing_project_and_a_foreign_one_answer_alike(api, charlie):
    missing = api.get("/api/v1/projects/nope/summary/")
    foreign = api.get("/api/v1/projects/other/summary/")
    assert missing.status_code == foreign.status_code == 404
    assert missing.json() == foreign.json()


@pytest.mark.parametrize("scheme", ["Token", "Bearer"])
def test_an_ingest_token_cannot_read_the_api(client, project_a, token, scheme, settings):
    # Every call here is a wrong API token; let none of them hit the lock on wrong tokens.
    settings.CONFLICTWATCH_SIGNIN_FAILURES = 10_000
    for route, view in api_routes():
        if is_detail(route):
            continue
        for method in methods_of(view):
            answer = getattr(client, method)(
                fill(route, "shop"), HTTP_AUTHORIZATION=f"{scheme} {token}"
            )
            assert answer.status_code == 401, (method, route, answer.status_code)
    answer = client.get("/api/v1/projects/", HTTP_X_CONFLICTWATCH_TOKEN=token)
    assert answer.status_code == 401
