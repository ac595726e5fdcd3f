"""Stored XSS: logged paths, user agents, headers, clients and bodies are attacker text."""

import csv
import io
import re
from urllib.parse import quote, urlencode

import httpx

from tests.records import record

# Elements a payload would create if it were markup (chart data is JSON in a script element).
INJECTED = "main img, main svg, main script:not([type='application/json'])"
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
    assert "'" in page.inner_text("#curl")  # shell-quoted, shown as text
    watched.shot("hostile-request")
    # No element was created from the payloads.
    assert page.query_selector(INJECTED) is None

    # The client page (the hostile client id travels as ?c=), reached by clicking its link.
    page.click("#fields a.client")
    page.wait_for_selector("#client-requests")
    assert page.inner_text("#client-name") == PAYLOADS["client"] + "1"
    assert PAYLOADS["path"] in page.inner_text("#client-requests")
    assert page.query_selector(INJECTED) is None
    watched.shot("hostile-client")

    # The explorer filtered by the hostile client, and its CSV export.
    page.goto(
        live_server.url + "/p/shop/requests/?" + urlencode({"client": PAYLOADS["client"] + "1"})
    )
    page.wait_for_selector("#explorer-rows")
    assert PAYLOADS["path"] in page.inner_text("#explorer-rows")
    assert page.query_selector(INJECTED) is None
    csv_href = page.get_attribute("#csv-export", "href")
    csv_text = page.evaluate("(u) => fetch(u).then(r => r.text())", csv_href)
    assert csv_text.count("\n") == 4  # header and three rows
    watched.shot("hostile-explorer")

    # Chart legends and tooltips: the hostile route is a series name on no chart, but incident
    # rule names and the status classes are drawn on canvas; the endpoint's charts drew.
    page.goto(live_server.url + "/p/shop/")
    page.wait_for_selector("#hotspots")
    assert PAYLOADS["path"] in page.inner_text("#hotspots")
    assert PAYLOADS["client"] + "1" in page.inner_text("#offenders")
    assert page.query_selector(INJECTED) is None


def test_csv_export_neutralises_formula_cells(client, alice, shop, post_logs):
    post_logs(
        [
            record(i, path=f"/v1/{c}x", client=f"{c}cmd|' /C calc'!A0", user_agent=f"{c}1+1")
            for i, c in enumerate("=+-@")
        ]
    )
    client.force_login(alice)
    body = b"".join(client.get("/api/v1/projects/shop/export/requests.csv").streaming_content)
    rows = list(csv.reader(io.StringIO(body.decode())))
    cells = [cell for row in rows[1:] for cell in row]
    assert any(cell.startswith("'=") for cell in cells)
    assert not any(cell[:1] in ("=", "+", "@") for cell in cells)
    assert not any(cell.startswith("-") and not cell[1:2].isdigit() for cell in cells)


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
        "/p/shop/requests/",
        "/p/shop/requests/?status=abc",
        "/p/shop/client/?c=" + quote(PAYLOADS["client"] + "1"),
        "/p/shop/resource/?r=" + quote(PAYLOADS["path"]),
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


RLO = "\u202e"  # RIGHT-TO-LEFT OVERRIDE: what follows it is drawn reversed


def drawn_after(page, first: str, then: str) -> bool:
    """Whether every box of the element `then` is drawn to the right of every box of `first`
    (in a left-to-right line: `then` reads after `first`, not mixed into it)."""
    return page.evaluate(
        """([first, then]) => {
            const right = Math.max(...[...document.querySelector(first).getClientRects()]
                .map((r) => r.right));
            const left = Math.min(...[...document.querySelector(then).getClientRects()]
                .map((r) => r.left));
            return left >= right - 1;
        }""",
        [first, then],
    )


def test_a_right_to_left_override_in_logged_text_reverses_nothing_after_it(
    watched, sign_in, ship, alice, live_server
):
    ship(
        [
            record(
                i,
                method="PUT",
                path=f"/v1/docs/{RLO}evil.exe",
                status=409 if i % 3 else 200,
                client=f"{RLO}tneilc",
            )
            for i in range(9)
        ]
    )
    page = watched.page
    sign_in(watched, "alice", "pw-alice")
    page.goto(live_server.url + "/p/shop/")
    page.wait_for_selector("#top-by-rate li a")
    # The figure after the endpoint reads 66.7%, not %7.66.
    assert drawn_after(page, "#top-by-rate li a", "#top-by-rate li .num")
    assert drawn_after(page, "#top-by-count li a", "#top-by-count li .num")
    watched.shot("hostile-rtl-overview")
    page.click("#offenders a.client >> nth=0")
    page.wait_for_selector("#client-name")
    assert drawn_after(page, "#client-name", "main h1 .muted")
    page.goto(live_server.url + "/p/shop/resource/?" + urlencode({"r": f"/v1/docs/{RLO}evil.exe"}))
    assert drawn_after(page, "#resource-name", "main h1 .muted")
