"""sources/: create, rotate, revoke (admins only; a token is shown once); roles; rate limits."""

import json

import pytest

from ingest.models import Source
from monitor.api.throttles import TokenRateThrottle
from tests.api.conftest import token_client
from tests.records import record

SOURCES = "/api/v1/projects/shop/sources/"


def ingest(client, token: str, i: int = 1):
    return client.post(
        "/ingest/v1/logs",
        json.dumps(record(i)),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )


def test_an_admin_creates_a_source_and_sees_its_token_once(api, client):
    answer = api.post(SOURCES, {"name": "edge", "format": "native"}, "application/json")
    assert answer.status_code == 201
    created = answer.json()
    assert created["token"].startswith("cw_")
    assert created["token_hint"] == created["token"][:8]
    assert created["format"] == "native"
    assert ingest(client, created["token"]).status_code == 200
    listed = api.get(SOURCES).json()
    assert [s["name"] for s in listed] == ["edge"]
    assert "token" not in listed[0]
    assert "token" not in api.get(SOURCES + f"{created['id']}/").json()
    assert Source.objects.get().token_hash != created["token"]


@pytest.mark.parametrize(
    ("body", "name"),
    [
        ({}, "name"),
        ({"name": ""}, "name"),
        ({"name": "x" * 101}, "name"),
        ({"name": "a\x00b"}, "name"),
        ({"name": "ok", "format": "morse"}, "format"),
    ],
)
def test_a_bad_source_is_a_400_naming_the_field(api, body, name):
    answer = api.post(SOURCES, body, "application/json")
    assert answer.status_code == 400
    assert answer.json()["error"].startswith(name + ":")


def test_a_second_source_of_the_same_name_is_a_400(api):
    api.post(SOURCES, {"name": "gw"}, "application/json")
    answer = api.post(SOURCES, {"name": "gw"}, "application/json")
    assert answer.status_code == 400
    assert answer.json()["error"].startswith("name:")


def test_rotating_gives_a_new_token_and_the_old_one_stops_working(api, client):
    created = api.post(SOURCES, {"name": "gw"}, "application/json").json()
    rotated = api.post(SOURCES + f"{created['id']}/rotate/").json()
    assert rotated["token"] != created["token"]
    assert ingest(client, created["token"]).status_code == 401
    assert ingest(client, rotated["token"], 2).status_code == 200


def test_revoking_stops_the_token_and_keeps_the_source_listed(api, client):
    created = api.post(SOURCES, {"name": "gw"}, "application/json").json()
    assert api.delete(SOURCES + f"{created['id']}/").status_code == 204
    assert ingest(client, created["token"]).status_code == 401
    [listed] = api.get(SOURCES).json()
    assert listed["revoked_at"] is not None
    assert api.delete(SOURCES + f"{created['id']}/").status_code == 204


def test_a_viewer_lists_sources_and_manages_none(bob, token):
    bob_api = token_client(bob)
    source = Source.objects.get()
    [listed] = bob_api.get(SOURCES).json()
    assert listed["name"] == "gateway" and "token" not in listed
    assert bob_api.post(SOURCES, {"name": "x"}, "application/json").status_code == 403
    assert bob_api.post(SOURCES + f"{source.pk}/rotate/").status_code == 403
    assert bob_api.delete(SOURCES + f"{source.pk}/").status_code == 403
    assert Source.objects.get().revoked_at is None
    assert bob_api.get("/api/v1/projects/shop/summary/").status_code == 200


def test_a_viewer_reads_but_cannot_write(api_bob):
    assert api_bob.get("/api/v1/projects/shop/requests/").status_code == 200
    assert api_bob.post(SOURCES, {"name": "x"}, "application/json").status_code == 403


def test_unauthenticated_calls_are_401_with_a_json_error(client, shop):
    answer = client.get("/api/v1/projects/shop/summary/")
    assert answer.status_code == 401
    assert "error" in answer.json()
    assert (
        client.get("/api/v1/projects/shop/summary/", HTTP_AUTHORIZATION="Token nope").status_code
        == 401
    )


def test_a_token_over_its_rate_gets_429_with_retry_after(api, bob, settings, monkeypatch):
    settings.CONFLICTWATCH_API_RATE = "3/min"
    # 20 s into a minute: the calls below fall in one counting window (monitor/api/throttles).
    monkeypatch.setattr(TokenRateThrottle, "timer", lambda self: 1_000_000_040.0)
    for _ in range(3):
        assert api.get("/api/v1/projects/").status_code == 200
    answer = api.get("/api/v1/projects/")
    assert answer.status_code == 429
    assert int(answer["Retry-After"]) == 40  # the window's end
    assert "error" in answer.json()
    # Another token has its own allowance.
    assert token_client(bob).get("/api/v1/projects/").status_code == 200


def test_calls_are_answered_when_the_rate_limit_cache_is_down(api, settings):
    # CACHE_URL naming a Redis that does not answer: the limit is not counted, calls still work.
    settings.CONFLICTWATCH_API_RATE = "3/min"
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:9/1",
        }
    }
    for _ in range(5):
        assert api.get("/api/v1/projects/").status_code == 200
