"""The route table: declared patterns before imported templates before derivation, the most
literal template first, parameters inside a segment, learned parameters on derived routes."""

import pytest

from ingest.routes import LearnedParam, RouteTable, normalize_template, template_error
from monitor.routing.openapi import DocumentError, read_document


def test_declared_wins_over_imported_and_the_most_literal_template_wins():
    table = RouteTable(
        declared=["/v1/users/{user}/keys"],
        imported=["/v1/users/{id}", "/v1/users/me", "/v1/users/{id}/keys", "/files/{name}.{ext}"],
    )
    assert table.route("/v1/users/me") == ("/v1/users/me", "openapi")
    assert table.route("/v1/users/42") == ("/v1/users/{id}", "openapi")
    assert table.route("/v1/users/42/") == ("/v1/users/{id}", "openapi")
    assert table.route("/v1/users/42/keys") == ("/v1/users/{user}/keys", "declared")
    assert table.route("/files/report.pdf") == ("/files/{name}.{ext}", "openapi")
    assert table.route("/files/report") == ("/files/report", "derived")
    assert table.route("/v1/users") == ("/v1/users", "derived")


def test_a_literal_dead_end_falls_back_to_the_parameter():
    table = RouteTable(imported=["/a/me/b", "/a/{x}/c"])
    assert table.route("/a/me/c") == ("/a/{x}/c", "openapi")


def test_learned_parameters_apply_to_derived_routes_below_them():
    table = RouteTable(
        learned=[LearnedParam("/repos", "{repo}"), LearnedParam("/repos/{repo}", "{name}")]
    )
    assert table.route("/repos/octo/widget/issues/7") == (
        "/repos/{repo}/{name}/issues/{id}",
        "learned",
    )
    assert table.route("/repos") == ("/repos", "derived")
    assert table.route("/other/octo") == ("/other/octo", "derived")


@pytest.mark.parametrize(
    ("template", "error"),
    [
        ("orders", "does not start with '/'"),
        ("/a/{id", "unbalanced braces"),
        ("/a/{b}{c}", "two parameters in a row"),
        ("/a b", "spaces or control characters"),
        ("/a?x=1", "without '?' or '#'"),
        ("/a/{1x}", "is not a parameter name"),
        ("/" + "x" * 600, "over the limit of 512"),
    ],
)
def test_a_bad_template_says_why(template, error):
    assert error in template_error(template)


def test_templates_are_spelled_one_way():
    assert normalize_template("/a//b/") == "/a/b"
    assert normalize_template("/") == "/"


def test_openapi_server_variables_and_unusable_paths():
    doc = read_document(
        b"""
openapi: 3.0.3
info: {title: T, version: "1"}
servers:
  - url: https://{host}/api/{version}
    variables:
      host: {default: example.com}
      version: {default: v3}
paths:
  /things/{id}:
    get: {}
    delete: {}
  things: {}
  /bad/{x:
    get: {}
"""
    )
    assert doc.base_path == "/api/v3"
    assert [(r.template, r.methods) for r in doc.routes] == [
        ("/api/v3/things/{id}", ["DELETE", "GET"])
    ]
    assert [p for p, _ in doc.skipped] == ["things", "/bad/{x"]


def test_a_yaml_alias_bomb_is_read_without_expanding_it():
    bomb = b'openapi: "3.0.0"\ninfo: {title: x}\na: &a ["x","x","x","x","x","x","x","x","x"]\n'
    for i in range(1, 12):
        bomb += (
            f"a{i}: &a{i} [".encode()
            + b",".join([f"*a{i - 1 if i > 1 else ''}".encode()] * 9)
            + b"]\n"
        )
    bomb += b"paths: {'/x': {get: {}}}\n"
    assert [r.template for r in read_document(bomb).routes] == ["/x"]


def test_a_document_over_the_limit_is_refused(monkeypatch):
    monkeypatch.setattr("monitor.routing.openapi.MAX_DOCUMENT_BYTES", 10)
    with pytest.raises(DocumentError, match="over"):
        read_document(b'{"openapi": "3.0.0", "paths": {}}')


def test_a_route_longer_than_a_template_may_be_is_cut(shop, post_logs):
    from ingest.models import Request
    from tests.records import record

    long_path = "/scan/" + "a" * 3000 + "/x"
    answer = post_logs([record(1, path=long_path)])
    assert answer.json()["accepted"] == 1
    route = Request.objects.get().route
    assert len(route) == 512 and route.endswith("…")
