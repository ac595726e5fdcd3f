"""Declared patterns and imported OpenAPI documents route later records; GET routes/ shows each
template's source; a gateway's own route still wins; endpoints a new pattern names alike are
merged with their counts."""

import gzip
import json
from pathlib import Path

import pytest

from ingest.models import Request
from monitor.models import Endpoint, Membership, RouteRule
from tests.api.conftest import token_client
from tests.records import record

DATA = Path(__file__).resolve().parents[1] / "data" / "openapi"
API = "/api/v1/projects/shop/"


def readme_yaml() -> bytes:
    return gzip.decompress((DATA / "readme-api.yaml.gz").read_bytes())


def routes_of(api, **params) -> dict[str, str]:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return {r["template"]: r["source"] for r in api.get(API + "routes/?" + query).json()}


def stored_routes(*request_ids) -> dict[str, str]:
    return dict(
        Request.objects.filter(request_id__in=request_ids).values_list("request_id", "route")
    )


def test_a_declared_pattern_routes_later_records(
    api, post_logs, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        answer = api.patch(
            API, {"route_patterns": ["/v1/orders/{order_id}/lines/{line}"]}, "application/json"
        )
    assert answer.status_code == 200
    post_logs(
        [
            record(1, path="/v1/orders/ord-a/lines/first"),
            record(2, path="/v1/orders/42"),
            record(3, path="/v1/orders/ord-b/lines/second", route="/orders/{id}/lines/{n}"),
        ]
    )
    assert stored_routes("req-1", "req-2", "req-3") == {
        "req-1": "/v1/orders/{order_id}/lines/{line}",
        "req-2": "/v1/orders/{id}",
        "req-3": "/orders/{id}/lines/{n}",  # the gateway's own route wins
    }
    assert routes_of(api) == {
        "/v1/orders/{order_id}/lines/{line}": "declared",
        "/orders/{id}/lines/{n}": "gateway",
        "/v1/orders/{id}": "derived",
    }
    declared = api.get(API + "routes/?source=declared").json()
    assert declared[0]["endpoints"] == 1 and declared[0]["methods"] == ["GET"]


def test_the_real_readme_api_document_imports_from_yaml(api, post_logs):
    answer = api.post(API + "routes/import/", readme_yaml(), content_type="application/yaml")
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert body["added"] == 28
    assert body["spec"] == "OpenAPI 3.1.0"
    assert body["base_path"] == "/v2"
    assert "/v2/branches/{branch}/guides/{slug}" in body["routes"]
    post_logs(
        [
            record(1, path="/v2/branches/stable/guides/getting-started"),
            record(2, path="/v2/projects/me"),
            record(3, path="/v2/projects/acme-docs/apikeys/key-7f3a"),
            record(4, path="/v2/branches/1.0/categories/guides/Intro%20page/pages"),
            record(5, path="/v2/unknown/thing"),
        ]
    )
    assert stored_routes(*[f"req-{i}" for i in range(1, 6)]) == {
        "req-1": "/v2/branches/{branch}/guides/{slug}",
        "req-2": "/v2/projects/me",  # the literal path before /projects/{subdomain}/…
        "req-3": "/v2/projects/{subdomain}/apikeys/{api_key_id}",
        "req-4": "/v2/branches/{branch}/categories/{section}/{title}/pages",
        "req-5": "/v2/unknown/thing",
    }
    sources = routes_of(api)
    assert sources["/v2/branches/{branch}/guides/{slug}"] == "openapi"
    assert sources["/v2/unknown/thing"] == "derived"
    imported = api.get(API + "routes/?source=openapi").json()
    assert len(imported) == 28
    guides = next(r for r in imported if r["template"] == "/v2/branches/{branch}/guides/{slug}")
    assert guides["methods"] == ["DELETE", "GET", "PATCH"]
    assert guides["endpoints"] == 1
    # Importing the same document again adds nothing.
    again = api.post(API + "routes/import/", readme_yaml(), content_type="application/yaml")
    assert again.json()["added"] == 0


def test_a_swagger_2_json_document_imports_with_its_base_path(api, post_logs):
    body = (DATA / "petstore-swagger2.json").read_bytes()
    answer = api.post(API + "routes/import/", body, content_type="application/json")
    assert answer.status_code == 200, answer.content
    assert answer.json()["spec"] == "Swagger 2.0"
    assert answer.json()["added"] == 14
    post_logs([record(1, path="/v2/pet/doggie-7"), record(2, path="/v2/user/johnny")])
    assert stored_routes("req-1", "req-2") == {
        "req-1": "/v2/pet/{petId}",
        "req-2": "/v2/user/{username}",
    }


def test_a_base_path_can_be_given_for_a_gateway_that_strips_it(api, post_logs):
    body = (DATA / "petstore-swagger2.json").read_bytes()
    answer = api.post(
        API + "routes/import/?base_path=/petstore", body, content_type="application/json"
    )
    assert answer.json()["base_path"] == "/petstore"
    post_logs([record(1, path="/petstore/store/order/abc")])
    assert stored_routes("req-1") == {"req-1": "/petstore/store/order/{orderId}"}


@pytest.mark.parametrize(
    ("base_path", "error"),
    [
        ("/" + "a" * 200, "base_path: at most 200 characters"),
        ("/v1%00", "base_path: a NUL character"),
    ],
)
def test_a_bad_base_path_is_refused_saying_why(api, base_path, error):
    body = (DATA / "petstore-swagger2.json").read_bytes()
    answer = api.post(
        API + "routes/import/?base_path=" + base_path, body, content_type="application/json"
    )
    assert answer.status_code == 400
    assert answer.json()["error"].startswith(error)


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b"", "document: expected an OpenAPI object at the top"),
        (b"{not json: [", "document: not JSON or YAML"),
        (b"- a\n- b\n", "document: expected an OpenAPI object"),
        (json.dumps({"info": {}}).encode(), "document: not an OpenAPI 3 or Swagger 2 document"),
        (json.dumps({"openapi": "4.0", "paths": {}}).encode(), "openapi: version '4.0'"),
        (json.dumps({"openapi": "3.0.0", "paths": {}}).encode(), "paths: the document has no"),
        (b"\xff\xfe\x00", "document: not UTF-8 text"),
    ],
)
def test_a_document_that_cannot_be_read_is_a_400_saying_why(api, body, error):
    answer = api.post(API + "routes/import/", body, content_type="application/yaml")
    assert answer.status_code == 400
    assert answer.json()["error"].startswith(error), answer.json()
    assert not RouteRule.objects.exists()


def test_an_import_merges_the_endpoints_it_names_alike(
    api, post_logs, django_capture_on_commit_callbacks
):
    post_logs([record(i, path=f"/v2/pet/{name}") for i, name in enumerate(["rex", "tom", "kit"])])
    assert api.get(API + "summary/?from=-3h").json()["requests"] == 3
    body = (DATA / "petstore-swagger2.json").read_bytes()
    with django_capture_on_commit_callbacks(execute=True):
        api.post(API + "routes/import/", body, content_type="application/json")
    endpoints = api.get(API + "endpoints/?from=-3h").json()
    assert [(e["route"], e["requests"]) for e in endpoints] == [("/v2/pet/{petId}", 3)]
    assert Endpoint.objects.filter(merged_into__isnull=False).count() == 3


def test_a_rule_is_removed_by_delete_and_later_records_are_routed_without_it(api, post_logs):
    api.post(
        API + "routes/import/",
        (DATA / "petstore-swagger2.json").read_bytes(),
        content_type="application/json",
    )
    rule = RouteRule.objects.get(template="/v2/pet/{petId}")
    assert api.delete(API + f"routes/{rule.id}/").status_code == 204
    post_logs([record(1, path="/v2/pet/rex")])
    assert stored_routes("req-1") == {"req-1": "/v2/pet/rex"}
    assert api.delete(API + f"routes/{rule.id}/").status_code == 404


def test_routes_test_says_how_a_path_is_routed(api):
    api.patch(API, {"route_patterns": ["/a/{b}"]}, "application/json")
    assert api.get(API + "routes/test/?path=/a/xyz").json() == {
        "path": "/a/xyz",
        "template": "/a/{b}",
        "source": "declared",
    }
    assert api.get(API + "routes/test/?path=/x/42").json()["source"] == "derived"
    assert api.get(API + "routes/test/?path=nope").status_code == 400


@pytest.mark.parametrize("role", [Membership.Role.VIEWER])
def test_only_admins_import_and_remove(bob, role):
    Membership.objects.filter(user=bob).update(role=role)
    bob_api = token_client(bob)
    body = (DATA / "petstore-swagger2.json").read_bytes()
    assert bob_api.get(API + "routes/").status_code == 200
    answer = bob_api.post(API + "routes/import/", body, content_type="application/json")
    assert answer.status_code == 403
    assert not RouteRule.objects.exists()


def test_a_non_member_gets_404(api_charlie):
    assert api_charlie.get(API + "routes/").status_code == 404
    assert api_charlie.post(API + "routes/import/", b"{}", "application/json").status_code == 404


def test_a_bad_source_filter_is_a_400(api):
    assert api.get(API + "routes/?source=guessed").json()["error"].startswith("source:")
