"""manage.py routes: import an OpenAPI document (file or stdin), list, test, learn."""

import gzip
import io
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from monitor.models import RouteRule
from tests.records import record

DATA = Path(__file__).resolve().parents[1] / "data" / "openapi"


def run(*args) -> str:
    out = io.StringIO()
    call_command("routes", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_it_imports_lists_and_tests(shop, tmp_path):
    doc = tmp_path / "readme.yaml"
    doc.write_bytes(gzip.decompress((DATA / "readme-api.yaml.gz").read_bytes()))
    out = run("shop", "--import", str(doc))
    assert "imported 28 templates of 'ReadMe API' (OpenAPI 3.1.0, prefixed with /v2): 28 new" in out
    assert RouteRule.objects.filter(source="openapi").count() == 28
    out = run("shop", "--test", "/v2/changelogs/my-post", "--test", "/other/42")
    assert "/v2/changelogs/my-post -> /v2/changelogs/{identifier} (openapi)" in out
    assert "/other/42 -> /other/{id} (derived)" in out
    listed = run("shop", "--list", "--source", "openapi")
    assert "/v2/changelogs/{identifier}" in listed
    assert "28 templates; 0 endpoints of at most 2000" in listed


def test_it_reads_a_document_from_stdin(shop, monkeypatch):
    body = (DATA / "petstore-swagger2.json").read_bytes()
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(body)))
    out = run("shop", "--import", "-", "--base-path", "")
    assert "(Swagger 2.0, prefixed with /): 14 new" in out
    assert RouteRule.objects.filter(template="/pet/{petId}").exists()


def test_it_learns_on_demand(shop, post_logs):
    shop.route_learning_threshold = 10
    shop.save()
    post_logs([record(i, path=f"/docs/{w}") for i, w in enumerate("abcdefghijkl")])
    out = run("shop", "--learn")
    assert "learned /docs/{doc} (12 distinct values, e.g. a, b, c)" in out
    assert "12 endpoints merged" in out


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["nope", "--list"], "no project 'nope'"),
        (["shop", "--import", "/does/not/exist.yaml"], "No such file or directory"),
    ],
)
def test_bad_input_says_why(shop, args, error):
    with pytest.raises(CommandError, match=error):
        run(*args)


def test_a_file_that_is_not_openapi_says_why(shop, tmp_path):
    bad = tmp_path / "x.json"
    bad.write_text('{"hello": 1}')
    with pytest.raises(CommandError, match="not an OpenAPI 3 or Swagger 2 document"):
        run("shop", "--import", str(bad))
