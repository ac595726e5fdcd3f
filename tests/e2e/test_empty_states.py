"""A new project, seen by its admin before any log arrives, and a client or resource with no
traffic in the range: every page says what to do or that there is nothing yet, in words; no
chart is drawn empty, and no "None", "NaN" or "undefined" shows."""

import re

PAGES = (
    "/p/shop/",
    "/p/shop/requests/",
    "/p/shop/tail/",
    "/p/shop/alerts/",
    "/p/shop/incidents/",
    "/p/shop/sources/",
    "/p/shop/members/",
    "/p/shop/routes/",
    "/p/shop/settings/",
    "/p/shop/client/?c=nobody",
    "/p/shop/resource/?r=/v1/nothing",
)
NOT_VALUES = re.compile(r"\b(None|NaN|undefined|null|Invalid Date)\b|\{[#%{]")


def drawn_charts(page) -> list[str]:
    """The ids of the chart canvases that are shown."""
    return page.eval_on_selector_all(
        "canvas[data-chart]", "cs => cs.filter((c) => c.offsetParent !== null).map((c) => c.id)"
    )


def test_every_page_of_a_new_project_says_what_to_do(watched, sign_in, alice, live_server):
    page = watched.page
    sign_in(watched, "alice", "pw-alice")
    for url in PAGES:
        page.goto(live_server.url + url)
        page.wait_for_load_state("load")
        text = page.inner_text("main")
        assert not NOT_VALUES.search(text), (url, NOT_VALUES.search(text))
        assert drawn_charts(page) == [], url
    page.goto(live_server.url + "/p/shop/requests/")
    assert "No data yet" in page.inner_text("#explorer-rows")
    page.goto(live_server.url + "/p/shop/client/?c=nobody")
    assert "No requests from this client in this range." in page.inner_text("main")
    watched.shot("empty-client")
    page.goto(live_server.url + "/p/shop/resource/?r=/v1/nothing")
    assert "No conflicts on this resource in this range." in page.inner_text("main")


def test_a_keyboard_user_skips_the_header_to_the_page(watched, sign_in, alice, live_server):
    page = watched.page
    sign_in(watched, "alice", "pw-alice")
    page.goto(live_server.url + "/p/shop/requests/")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.innerText") == "Skip to content"
    assert page.evaluate("document.activeElement.getBoundingClientRect().height") > 0
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    # The first link of the page itself (its breadcrumb), not the header's.
    assert page.evaluate("document.activeElement.closest('main') !== null")


def test_an_empty_list_is_readable_on_a_phone(watched, sign_in, alice, live_server):
    page = watched.page
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in(watched, "alice", "pw-alice")
    for url in (
        "/p/shop/requests/",
        "/p/shop/client/?c=nobody",
        "/p/shop/resource/?r=/v1/nothing",
        "/p/shop/sources/",
        "/p/shop/routes/",
    ):
        page.goto(live_server.url + url)
        # Each "nothing here" sentence is drawn within the window, not cut off by the width
        # of a table's headers.
        cut = page.evaluate(
            """() => [...document.querySelectorAll("main .muted")].filter((el) => {
                const r = document.createRange();
                r.selectNodeContents(el);
                return [...r.getClientRects()].some((b) => b.right > window.innerWidth);
            }).map((el) => el.innerText)"""
        )
        assert cut == [], url
    watched.shot("empty-sources-phone")
