"""Layout with hostile-sized data: a 2,000-character path, a 500-character client id and
right-to-left text keep every page within the window's width (the long values wrap or scroll
inside their own table), on a desktop and on a phone."""

import pytest

from tests.records import record

LONG_PATH = "/v1/" + "a" * 2000
LONG_CLIENT = "c" * 500


def overflow(page) -> int:
    """How many pixels the page is wider than its window (0: no horizontal scrollbar)."""
    return page.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )


def broken_words(page, selector: str) -> list[str]:
    """The ordinary words (under 30 characters) of the element drawn across two lines."""
    return page.evaluate(
        """(selector) => {
            const broken = [];
            const walker = document.createTreeWalker(
                document.querySelector(selector), NodeFilter.SHOW_TEXT);
            for (let node = walker.nextNode(); node; node = walker.nextNode()) {
                for (const m of node.data.matchAll(/\\S{1,29}/g)) {
                    const range = document.createRange();
                    range.setStart(node, m.index);
                    range.setEnd(node, m.index + m[0].length);
                    const tops = new Set([...range.getClientRects()].map((r) => r.top));
                    if (tops.size > 1) broken.push(m[0]);
                }
            }
            return broken;
        }""",
        selector,
    )


@pytest.mark.parametrize("width", [1366, 390])
def test_long_paths_and_clients_keep_the_explorer_within_the_window(
    watched, sign_in, ship, alice, live_server, width
):
    ship(
        [
            record(1, method="PUT", path=LONG_PATH, status=409, client=LONG_CLIENT),
            record(2, path="/v1/مستندات/עברית", client="مستخدم"),
        ]
    )
    page = watched.page
    page.set_viewport_size({"width": width, "height": 900})
    sign_in(watched, "alice", "pw-alice")
    for url in ("/p/shop/requests/", "/p/shop/tail/"):
        page.goto(live_server.url + url)
        page.wait_for_selector("select[name=endpoint]")
        assert overflow(page) == 0, url
        assert broken_words(page, "main h1") == [], url
    watched.shot(f"layout-explorer-{width}")


def columns_cut_off(page, table: str) -> list[str]:
    """The headers of the table's columns that are not drawn within its box (hidden in a
    scrolled-away part of the table)."""
    return page.evaluate(
        """(table) => {
            const box = document.querySelector(table).closest(".table-wrap, section")
                .getBoundingClientRect();
            return [...document.querySelectorAll(table + " thead th")]
                .filter((th) => th.getBoundingClientRect().right > box.right + 1)
                .map((th) => th.innerText);
        }""",
        table,
    )


def test_a_long_route_or_client_leaves_every_column_of_the_overview_in_view(
    watched, sign_in, ship, alice, live_server
):
    ship(
        [
            record(1, method="PUT", path=LONG_PATH, status=409, client=LONG_CLIENT),
            record(2, method="PUT", path="/v1/orders/1", status=409, client=LONG_CLIENT),
        ]
    )
    page = watched.page
    sign_in(watched, "alice", "pw-alice")
    page.goto(live_server.url + "/p/shop/")
    page.wait_for_selector("#endpoints")
    assert columns_cut_off(page, "#offenders table") == []
    assert columns_cut_off(page, "#endpoints") == []
    assert columns_cut_off(page, "#hotspots table") == []
    assert overflow(page) == 0
    watched.shot("layout-overview-long-values")


def test_count_axes_tick_at_whole_numbers(watched, sign_in, ship, alice, live_server):
    ship([record(1, status=409, method="PUT"), record(2, status=200)])
    page = watched.page
    sign_in(watched, "alice", "pw-alice")
    page.goto(live_server.url + "/p/shop/")
    page.wait_for_selector("#traffic")
    for canvas in ("traffic", "causes"):
        ticks = page.evaluate(
            "(id) => Chart.getChart(document.getElementById(id)).scales.y.ticks.map(t => t.value)",
            canvas,
        )
        assert ticks and all(float(t).is_integer() for t in ticks), (canvas, ticks)
