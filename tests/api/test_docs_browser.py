"""Swagger UI and ReDoc render in real headless Chromium under the site's Content-Security-Policy,
from our own static files: no console error (a CSP violation is one), no request to another host."""

from urllib.parse import urlsplit

import pytest

pytestmark = pytest.mark.e2e


@pytest.fixture
def page(browser, live_server, transactional_db):
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(20000)
    seen = {"foreign": [], "errors": []}
    here = urlsplit(live_server.url).netloc

    def on_failed(response):
        if response.status >= 400:
            seen["errors"].append(f"{response.status} {response.url}")

    page.on("response", on_failed)

    def on_request(request):
        url = urlsplit(request.url)
        if url.scheme not in ("data", "blob", "about") and url.netloc != here:
            seen["foreign"].append(request.url)

    page.on("request", on_request)
    page.on("console", lambda m: m.type == "error" and seen["errors"].append(m.text))
    page.on("pageerror", lambda exc: seen["errors"].append(str(exc)))
    page.seen = seen
    yield page
    context.close()


def test_swagger_ui_renders_every_operation_under_the_strict_csp(page, live_server):
    response = page.goto(live_server.url + "/api/v1/docs/")
    assert "unsafe-inline" not in response.headers["content-security-policy"]
    page.wait_for_selector(".opblock-summary-path")
    paths = page.locator(".opblock-summary-path").all_inner_texts()
    assert any("/timeseries/" in p for p in paths)
    assert any("/export/requests.csv" in p for p in paths)
    assert page.seen == {"foreign": [], "errors": []}


# ReDoc's side menu always shows Redocly's logo from their CDN; the CSP blocks it (img-src
# 'self'), so nothing leaves the page, and that block is the one console error ReDoc causes.
REDOCLY_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"


def test_redoc_renders_offline(page, live_server):
    page.goto(live_server.url + "/api/v1/redoc/")
    page.wait_for_selector("text=ConflictWatch API")
    page.wait_for_selector("text=timeseries", state="attached")
    assert set(page.seen["foreign"]) <= {REDOCLY_LOGO}
    assert [e for e in page.seen["errors"] if REDOCLY_LOGO not in e] == []
