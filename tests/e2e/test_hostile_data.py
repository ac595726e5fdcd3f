"""Stored XSS: logged paths, user agents, headers, clients and bodies are attacker text."""

import re

import httpx

from tests.records import record

PAYLOADS = {
    "path": "/v1/<script>alert('path')</script>/x",
    "user_agent": '"><img src=x onerror=alert("ua")>',
    "client": "<svg onload=alert('client')>",
    "if_match": "\"<script>alert('header')</script>\"",
    "body": "<img src=x onerror=alert('body')><script>alert('body2')</script>",
}


def hostile_records() -> list[dict]:
    return [
        record(
            i,
            method="PUT",
            path=PAYLOADS["path"],
            status=409 if i % 2 else 200,
            user_agent=PAYLOADS["user_agent"],
            client=PAYLOADS["client"] + str(i % 2),
            request_headers={"If-Match": PAYLOADS["if_match"]},
            response_headers={"Content-Type": "text/html", "Location": "javascript:alert('loc')"},
            response_body=PAYLOADS["body"],
        )
        for i in range(6)
    ]


def test_hostile_records_are_shown_as_text_on_every_page(
    watched, sign_in, ship, alice, live_server
):
    ship(hostile_records())
    page = watched.page
    sign_in(watched, "alice", "pw-alice")
    page.goto(live_server.url + "/p/shop/")
    page.wait_for_selector("#endpoints")
    assert "<script>alert('path')</script>" in page.inner_text("#endpoints")
    page.click("#endpoints tbody a >> nth=0")
    page.wait_for_selector("#recent-conflicts")
    assert PAYLOADS["path"] in page.inner_text("#recent-conflicts")
    assert PAYLOADS["client"] + "1" in page.inner_text("#recent-conflicts")
    page.click("#recent-conflicts tbody a >> nth=0")
    page.wait_for_selector("#fields")
    text = page.inner_text("body")
    for value in (PAYLOADS["path"], PAYLOADS["user_agent"], PAYLOADS["if_match"], PAYLOADS["body"]):
        assert value in text
    watched.shot("hostile-request")
    # No element was created from the payloads.
    assert page.query_selector("main img, main svg, main script") is None


def test_every_page_sends_a_strict_csp_and_no_inline_script(client, alice, shop, post_logs):
    post_logs(hostile_records())
    client.force_login(alice)
    request_id = client.get("/api/v1/projects/shop/requests/").json()["results"][0]["id"]
    endpoint_id = client.get("/api/v1/projects/shop/endpoints/").json()[0]["id"]
    for url in (
        "/",
        "/p/shop/",
        f"/p/shop/endpoints/{endpoint_id}/",
        f"/p/shop/requests/{request_id}/",
        "/accounts/login/",
    ):
        response = client.get(url)
        assert response.status_code == 200, url
        csp = response["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp, url
        html = response.content.decode()
        for tag in re.findall(r"<script\b[^>]*>", html):
            assert "src=" in tag or 'type="application/json"' in tag, f"{url}: inline {tag}"
        assert "<script>alert" not in html, url


def test_the_login_page_works_offline_with_no_other_host(watched, live_server):
    watched.page.goto(live_server.url + "/accounts/login/")
    assert watched.page.query_selector("input[name=username]") is not None
    assert (
        httpx.get(live_server.url + "/static/vendor/chart.js/dist/chart.umd.min.js").status_code
        == 200
    )
