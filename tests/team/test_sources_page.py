"""The sources page: create (token shown once), rotate, revoke; per source the last hour's
accepted / rejected records, when it was last seen and its latest problems, escaped."""

import json

from ingest.models import Source, SourceProblem
from ingest.problems import KEEP
from tests.records import record


def test_an_admin_creates_a_source_and_sees_its_token_once(client, alice):
    client.force_login(alice)
    answer = client.post("/p/shop/sources/", {"name": "edge", "format": "kong"})
    assert answer.status_code == 200
    token = answer.context["token"]
    assert token.startswith("cw_") and token in answer.content.decode()
    assert 'data-copy="token"' in answer.content.decode()
    assert answer["Cache-Control"].startswith("max-age=0")
    source = Source.objects.get(name="edge")
    assert source.format == "kong" and source.token_hash != token
    assert token not in client.get("/p/shop/sources/").content.decode()
    again = client.post("/p/shop/sources/", {"name": "edge"})
    assert again.status_code == 400 and "rotate its token instead" in again.content.decode()


def test_rotate_and_revoke_from_the_page(client, alice, token, post_logs):
    client.force_login(alice)
    source = Source.objects.get()
    rotated = client.post(f"/p/shop/sources/{source.id}/rotate/").context["token"]
    assert post_logs([record(1)]).status_code == 401  # the old token
    headers = {"HTTP_AUTHORIZATION": f"Bearer {rotated}"}
    assert (
        client.post(
            "/ingest/v1/logs", json.dumps(record(2)), "application/json", **headers
        ).status_code
        == 200
    )
    client.post(f"/p/shop/sources/{source.id}/revoke/")
    assert (
        client.post(
            "/ingest/v1/logs", json.dumps(record(3)), "application/json", **headers
        ).status_code
        == 401
    )
    assert "revoked" in client.get("/p/shop/sources/").content.decode()


def test_the_page_shows_the_last_hour_and_the_latest_problems(client, alice, post_logs):
    post_logs([record(1), record(2), {"ts": "yesterday", "method": "GET"}])
    post_logs([record(3)], fmt="<script>alert(1)</script>")
    post_logs(b"{}", content_type="application/xml")
    assert post_logs([{"ts": "x", "method": "GET"}]).status_code == 400  # all rejected: counted
    client.force_login(alice)
    page = client.get("/p/shop/sources/")
    [(source, activity)] = page.context["rows"]
    assert (activity["accepted"], activity["rejected"]) == (2, 2)
    assert source.last_used_at is not None
    statuses = [p.status for p in activity["problems"]]
    assert statuses == [400, 415, 400, 200]  # newest first
    html = page.content.decode()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "1 rejected; first: " in html


def test_problems_are_bounded_and_cleaned(post_logs, token):
    for _ in range(KEEP + 5):
        post_logs(b"{}", content_type="application/xml")
    assert SourceProblem.objects.count() == KEEP
    post_logs([{"method": "GET\x00\r\n", "path": "/" + "x" * 5000, "ts": "x", "status": 200}])
    newest = SourceProblem.objects.order_by("-at", "-id").first()
    assert (
        len(newest.message) <= 300 and "\x00" not in newest.message and "\n" not in newest.message
    )


def test_a_viewer_sees_sources_without_forms(client, alice, bob, token):
    client.force_login(bob)
    page = client.get("/p/shop/sources/").content.decode()
    assert "gateway" in page and 'id="add-source"' not in page and "Rotate" not in page
    assert client.post("/p/shop/sources/", {"name": "x"}).status_code == 403
