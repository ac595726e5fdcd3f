"""Browser fixtures: real headless Chromium (Debian's /usr/bin/chromium) driven by Playwright,
shared by every browser test (one Playwright instance per test session).

Every page a test opens is watched: a request to another host, a JavaScript dialog (an XSS
payload that ran) or a console error (a CSP violation, a script error) fails the test.
Screenshots go to $CONFLICTWATCH_ARTIFACTS/screenshots (default: artifacts/ in the checkout).
"""

import os
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import sync_playwright

from ingest.sources import create_source

# Playwright's sync API runs an event loop in this thread; Django's ORM refuses to run in a
# thread with a running loop unless told that this is deliberate.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("CONFLICTWATCH_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(
    os.environ.get("CONFLICTWATCH_ARTIFACTS", Path(__file__).resolve().parents[1] / "artifacts")
)


@pytest.fixture(scope="session")
def browser():
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--disable-quic",
            ],
        )
        yield chromium
        chromium.close()


class WatchedPage:
    """A page plus what it did that it should not: foreign requests, dialogs, console errors."""

    def __init__(self, page, base_url: str):
        self.page = page
        self.base = urlsplit(base_url)
        self.foreign: list[str] = []
        self.dialogs: list[str] = []
        self.errors: list[str] = []
        page.on("request", self._on_request)
        page.on("dialog", self._on_dialog)
        page.on("console", lambda msg: msg.type == "error" and self.errors.append(msg.text))
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))

    def _on_request(self, request):
        url = urlsplit(request.url)
        if url.scheme in ("data", "blob", "about"):
            return
        if url.netloc != self.base.netloc:
            self.foreign.append(request.url)

    def _on_dialog(self, dialog):
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def shot(self, name: str) -> None:
        folder = ARTIFACTS / "screenshots"
        folder.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(folder / f"{name}.png"), full_page=True)

    def chart_totals(self, canvas_id: str) -> dict[str, int]:
        """Sum of each dataset of the Chart.js instance drawn on this canvas."""
        return self.page.evaluate(
            """(id) => {
                const chart = Chart.getChart(document.getElementById(id));
                const out = {};
                for (const ds of chart.data.datasets) {
                    out[ds.label] = ds.data.reduce((a, b) => a + b, 0);
                }
                return out;
            }""",
            canvas_id,
        )


@pytest.fixture
def watched(browser, live_server):
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15000)
    w = WatchedPage(page, live_server.url)
    yield w
    context.close()
    assert w.foreign == [], f"requests to other hosts: {w.foreign}"
    assert w.dialogs == [], f"JavaScript dialogs fired (script ran): {w.dialogs}"
    assert w.errors == [], f"console errors: {w.errors}"


@pytest.fixture
def sign_in(live_server):
    def go(watched: WatchedPage, username: str, password: str) -> None:
        page = watched.page
        page.goto(live_server.url + "/accounts/login/")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", password)
        page.click("button[type=submit]")
        page.wait_for_url(live_server.url + "/")

    return go


@pytest.fixture
def ship(live_server, shop):
    """Post native records to the live server's ingest endpoint (aggregated on commit)."""
    _, token = create_source(shop.slug, "e2e")

    def post(records: list[dict]) -> dict:
        import json

        response = httpx.post(
            live_server.url + "/ingest/v1/logs?format=native",
            content="\n".join(json.dumps(r) for r in records),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/x-ndjson"},
            timeout=60,
        )
        assert response.status_code == 200, response.text
        return response.json()

    return post
