"""The dashboard during an incident, in Chromium at 1440 px and on a phone: the comparison with
the previous period (checked against the raw records), conflicts on their own chart, the
endpoint page's remedies, hotspots, status mix and latency heatmap, the explorer's count and
paging, the live tail, and a copied link that reopens the same view."""

import re
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from monitor.demo.simulation import Simulator
from monitor.rules.causes import CONFLICT_STATUSES

DESKTOP = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}


def ts(r: dict) -> datetime:
    return datetime.fromisoformat(r["ts"].replace("Z", "+00:00"))


def number(text: str) -> float:
    return float(re.sub(r"[^0-9.]", "", text))


def figures(records: list[dict]) -> dict:
    conflicts = sum(1 for r in records if r["status"] in CONFLICT_STATUSES)
    return {"requests": len(records), "conflicts": conflicts, "rate": conflicts / len(records)}


def is_patch_order(r: dict) -> bool:
    return r["method"] == "PATCH" and r["path"].startswith("/v1/orders/")


@pytest.fixture
def incident(ship):
    """A calm hour (75-115 minutes ago) and an incident in the last hour (10-40 minutes ago,
    three times the conflicts); returns both periods' records."""
    now = datetime.now(UTC)
    calm = Simulator(seed=11).traffic(now - timedelta(minutes=115), 20 * 60, 1.5, 0.03)
    storm = Simulator(seed=12).traffic(now - timedelta(minutes=40), 20 * 60, 2, 0.12)
    for batch in (calm, storm):
        for i in range(0, len(batch), 500):
            ship(batch[i : i + 500])
    hour_ago = now - timedelta(hours=1)
    before = [r for r in calm + storm if ts(r) < hour_ago]
    during = [r for r in calm + storm if ts(r) >= hour_ago]
    # Episodes' retries stay within minutes: nothing lies near the edges of either hour.
    assert all(now - timedelta(minutes=118) < ts(r) < now - timedelta(minutes=65) for r in before)
    assert all(now - timedelta(minutes=41) < ts(r) < now + timedelta(minutes=1) for r in during)
    return before, during


def desktop(watched):
    watched.page.set_viewport_size(DESKTOP)
    return watched.page


def fits_width(page, limit: int) -> bool:
    return page.evaluate("() => document.documentElement.scrollWidth") <= limit


def test_the_overview_compares_with_the_hour_before(watched, sign_in, alice, live_server, incident):
    before, during = incident
    page = desktop(watched)
    sign_in(watched, "alice", "pw-alice")
    watched.shot("21-projects")
    card = page.inner_text("#project-shop")
    assert f"{len(before) + len(during):,}" in card

    page.goto(live_server.url + "/p/shop/?range=1h")
    page.wait_for_selector("#traffic")
    watched.shot("22-overview-1440")
    now, then = figures(during), figures(before)
    assert number(page.inner_text("#stat-requests .value")) == now["requests"]
    assert number(page.inner_text("#stat-requests .was")) == then["requests"]
    assert number(page.inner_text("#stat-conflicts .value")) == now["conflicts"]
    assert number(page.inner_text("#stat-conflicts .was")) == then["conflicts"]
    assert page.inner_text("#stat-rate .value") == f"{now['rate'] * 100:.2f}%"
    assert page.inner_text("#stat-rate .was") == f"was {then['rate'] * 100:.2f}%"
    # Worse: more conflicts and a higher rate are marked (red); more requests are not.
    assert page.locator("#stat-rate .delta.worse").count() == 1
    assert page.locator("#stat-requests .delta.worse").count() == 0
    # Stat cards are as tall as their content, not stretched to the causes card.
    heights = page.evaluate(
        "() => [...document.querySelectorAll('#summary .stat:not(.causes)')]"
        ".map(e => e.getBoundingClientRect().height)"
    )
    assert max(heights) < 110

    # Conflicts have a chart of their own, with the previous hour as a faint line.
    causes = watched.chart_totals("causes")
    assert causes.pop("previous period") == then["conflicts"]
    assert sum(causes.values()) == now["conflicts"]
    traffic = watched.chart_totals("traffic")
    assert traffic.pop("previous period") == then["requests"]
    assert sum(traffic.values()) == now["requests"]
    assert "conflicts" not in traffic

    # The endpoints table: each endpoint's change against its own previous hour.
    row = page.locator("#endpoints tr", has_text="PATCH /v1/orders/{id}")
    cells = row.locator("td")
    patch_before = figures([r for r in before if is_patch_order(r)])
    title = cells.nth(5).locator(".delta").get_attribute("title")
    assert title == f"previous period: {patch_before['conflicts']:,}"

    # Auto-refresh is on by default on a live range, and a refresh swaps the content in place.
    assert page.get_attribute("#refresh-toggle", "aria-pressed") == "true"
    page.evaluate("() => document.dispatchEvent(new Event('cw:refresh'))")
    page.wait_for_selector("body[data-refreshed-at]")
    assert (
        sum(v for k, v in watched.chart_totals("causes").items() if k != "previous period")
        == (now["conflicts"])
    )
    page.click("#refresh-toggle")
    assert page.get_attribute("#refresh-toggle", "aria-pressed") == "false"
    page.reload()
    assert page.get_attribute("#refresh-toggle", "aria-pressed") == "false"
    page.click("#refresh-toggle")

    page.set_viewport_size(PHONE)
    page.goto(live_server.url + "/p/shop/?range=1h")
    page.wait_for_selector("#traffic")
    watched.shot("23-overview-phone")
    assert fits_width(page, 400)
    # A cause tag never breaks inside: each is one line.
    assert page.evaluate(
        "() => [...document.querySelectorAll('.cause')].every(e => e.getClientRects().length === 1)"
    )


def test_the_endpoint_page_reads_well_during_an_incident(
    watched, sign_in, alice, live_server, incident
):
    before, during = incident
    page = desktop(watched)
    sign_in(watched, "alice", "pw-alice")
    page.goto(live_server.url + "/p/shop/?range=1h")
    page.click("#endpoints tr:has-text('PATCH /v1/orders/{id}') a")
    page.wait_for_selector("#heatmap")
    watched.shot("24-endpoint-1440")
    page.locator("#heatmap").screenshot(path=str(shot_path("24b-heatmap")))
    patches = [r for r in during if is_patch_order(r)]

    # Remedies: evidence as sentences, not a Python list.
    remedies = page.inner_text("#remedies")
    assert "['" not in remedies and "']" not in remedies
    assert page.locator("#remedies .evidence li").count() >= 1
    # Status mix shares its row with the remedies: no empty half.
    mix, rem = page.query_selector("#status-mix"), page.query_selector("#remedies")
    assert mix.bounding_box()["y"] == rem.bounding_box()["y"]
    # Hottest resources: nothing cut off, and paths never wrap inside a segment.
    assert page.evaluate(
        "() => { const w = document.querySelector('#hotspots .table-wrap');"
        " return w.scrollWidth <= w.clientWidth; }"
    )
    assert page.evaluate(
        "() => [...document.querySelectorAll('#hotspots td.path a')].every(a =>"
        " a.getBoundingClientRect().height < 2 * parseFloat(getComputedStyle(a).fontSize))"
    )
    # The heatmap counts every request of the hour once, in its latency band.
    cells = page.evaluate(
        "() => Chart.getChart(document.getElementById('heatmap')).data.datasets[0].data"
        ".reduce((a, c) => a + c.v, 0)"
    )
    assert cells == len(patches)
    latency = page.evaluate(
        "() => Chart.getChart(document.getElementById('latency')).data.datasets.map(d => d.label)"
    )
    assert latency == ["p50 ms", "p95 ms", "p95 ms, previous period"]
    rate_title = page.locator("#stat-rate .delta").get_attribute("title")
    patch_before = figures([r for r in before if is_patch_order(r)])
    assert rate_title == f"previous period: {patch_before['rate'] * 100:.2f}%"

    page.set_viewport_size(PHONE)
    page.reload()
    page.wait_for_selector("#heatmap")
    watched.shot("25-endpoint-phone")
    assert fits_width(page, 400)


def test_the_explorer_counts_pages_both_ways_and_filters_conflicts(
    watched, sign_in, alice, live_server, incident
):
    _, during = incident
    page = desktop(watched)
    sign_in(watched, "alice", "pw-alice")
    page.goto(live_server.url + "/p/shop/requests/?range=1h&status=4xx")
    page.wait_for_selector("#explorer-rows")
    watched.shot("26-explorer-4xx")
    fours = [r for r in during if 400 <= r["status"] < 500]
    assert number(page.inner_text("#match-count strong")) == len(fours)
    statuses = page.eval_on_selector_all(
        "#explorer-rows td:nth-child(3)", "els => els.map(e => Number(e.innerText))"
    )
    assert statuses and all(400 <= s < 500 for s in statuses)

    page.check("#conflicts-only")
    page.fill("#filters input[name=status]", "")
    page.click("#filters button[type=submit]")
    page.wait_for_url("**conflicts=1*")
    conflicts = [r for r in during if r["status"] in CONFLICT_STATUSES]
    assert number(page.inner_text("#match-count strong")) == len(conflicts)
    first_page = page.eval_on_selector_all("#explorer-rows tbody tr", "rs => rs.length")
    assert first_page == 50
    top = page.inner_text("#explorer-rows tbody tr >> nth=0")
    page.click("#older")
    page.wait_for_url("**before=*")
    assert "conflicts=1" in page.url
    page.click("#newer")
    page.wait_for_url("**after=*")
    assert page.inner_text("#explorer-rows tbody tr >> nth=0") == top
    watched.shot("27-explorer-newer")

    # Changing the range keeps the filters.
    page.click("nav.ranges a:has-text('6h')")
    page.wait_for_url("**range=6h*")
    assert parse_qs(urlsplit(page.url).query)["conflicts"] == ["1"]

    page.set_viewport_size(PHONE)
    page.goto(live_server.url + "/p/shop/requests/?range=1h&conflicts=1")
    watched.shot("28-explorer-phone")
    assert fits_width(page, 400)


def test_the_live_tail_shows_a_request_stored_after_it_opened(
    watched, sign_in, alice, live_server, ship
):
    page = desktop(watched)
    sign_in(watched, "alice", "pw-alice")
    now = datetime.now(UTC)
    ship([rec(now - timedelta(minutes=2), 200, "/v1/orders/1", "seen-before")])
    page.goto(live_server.url + "/p/shop/tail/?conflicts=1")
    page.wait_for_selector("#tail-rows")
    assert page.locator("#tail-rows tbody tr").count() == 0
    ship(
        [
            rec(datetime.now(UTC), 200, "/v1/orders/5", "calm-one"),
            rec(datetime.now(UTC), 409, "/v1/orders/5", "loud-one"),
        ]
    )
    # Within 5 seconds of being stored (the page polls every 2 s), highlighted.
    row = page.wait_for_selector("#tail-rows tbody tr.conflict", timeout=5000)
    assert "409" in row.inner_text()
    assert page.locator("#tail-rows tbody tr").count() == 1  # the 200 is filtered out
    watched.shot("29-tail")

    # Paused, nothing new comes in; resumed, it does.
    page.click("#tail-pause")
    ship([rec(datetime.now(UTC), 412, "/v1/orders/6", "while-paused")])
    page.wait_for_timeout(3000)
    assert page.locator("#tail-rows tbody tr").count() == 1
    page.click("#tail-pause")
    page.wait_for_function(
        "() => document.querySelectorAll('#tail-rows tbody tr').length === 2", timeout=5000
    )
    page.set_viewport_size(PHONE)
    watched.shot("30-tail-phone")
    assert fits_width(page, 400)


def rec(at: datetime, status: int, path: str, rid: str) -> dict:
    return {
        "ts": at.isoformat().replace("+00:00", "Z"),
        "method": "PUT",
        "path": path,
        "status": status,
        "client": "acme-mobile",
        "duration_ms": 12.5,
        "request_id": rid,
    }


def test_a_copied_link_reopens_the_same_view(
    browser, watched, sign_in, alice, live_server, incident
):
    page = desktop(watched)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    sign_in(watched, "alice", "pw-alice")
    page.goto(live_server.url + "/p/shop/requests/?range=1h&method=PATCH&conflicts=1")
    page.wait_for_selector("#explorer-rows")
    rows = page.inner_text("#explorer-rows tbody")
    page.click("#copy-link")
    link = page.evaluate("() => navigator.clipboard.readText()")
    query = parse_qs(urlsplit(link).query)
    assert query["method"] == ["PATCH"] and query["conflicts"] == ["1"]
    assert "from" in query and "to" in query and "range" not in query

    # Pasted into another browser session (signed in as bob): the same window and filters.
    other = browser.new_context(viewport=DESKTOP)
    try:
        tab = other.new_page()
        tab.goto(live_server.url + "/accounts/login/")
        tab.fill("input[name=username]", "alice")
        tab.fill("input[name=password]", "pw-alice")
        tab.click("button[type=submit]")
        tab.wait_for_url(live_server.url + "/")
        tab.goto(link)
        tab.wait_for_selector("#explorer-rows")
        assert tab.input_value("#filters select[name=method]") == "PATCH"
        assert tab.is_checked("#conflicts-only")
        assert tab.query_selector("details.custom-range.active") is not None
        assert tab.inner_text("#explorer-rows tbody") == rows
        tab.screenshot(path=str(shot_path("31-pasted-link")), full_page=True)
    finally:
        other.close()


def shot_path(name: str):
    from tests.browser import ARTIFACTS

    folder = ARTIFACTS / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{name}.png"


def test_a_new_project_opens_on_the_last_hour(watched, sign_in, alice, live_server, ship):
    now = datetime.now(UTC)
    ship(Simulator(seed=5).traffic(now - timedelta(minutes=30), 25 * 60, 1))
    page = desktop(watched)
    sign_in(watched, "alice", "pw-alice")
    page.goto(live_server.url + "/p/shop/")
    page.wait_for_selector("#traffic")
    assert "last 1h" in page.inner_text("h1")
    labels = page.evaluate(
        "() => Chart.getChart(document.getElementById('traffic')).data.labels.length"
    )
    assert labels <= 61  # minutes of the last hour, not 96 quarter-hours of a day
    watched.shot("32-new-project-overview")


def test_the_new_rule_form_lines_labels_up_with_their_fields(watched, sign_in, alice, live_server):
    page = desktop(watched)
    sign_in(watched, "alice", "pw-alice")
    page.goto(live_server.url + "/p/shop/alerts/")
    page.wait_for_selector("#new-rule form")
    page.locator("#new-rule").screenshot(path=str(shot_path("33-new-rule-form")))
    # Each label sits beside its field, fields line up in one column of one width.
    rows = page.evaluate(
        "() => [...document.querySelectorAll('#new-rule .rule-form > div')].map(d => {"
        " const label = d.querySelector('label'), field = d.querySelector('input, select, textarea');"
        " if (!label || !field || field.type === 'checkbox') return null;"
        " const l = label.getBoundingClientRect(), f = field.getBoundingClientRect();"
        " return [Math.round(l.top - f.top), Math.round(f.left), Math.round(f.width)]; })"
        ".filter(Boolean)"
    )
    assert len(rows) >= 5
    assert all(abs(dy) < 12 for dy, _, _ in rows)
    assert len({left for _, left, _ in rows}) == 1
    assert len({width for _, _, width in rows}) == 1
    page.set_viewport_size(PHONE)
    page.reload()
    page.locator("#new-rule").screenshot(path=str(shot_path("34-new-rule-form-phone")))
    assert fits_width(page, 400)


def test_client_and_resource_pages_chart_their_traffic(
    watched, sign_in, alice, live_server, incident
):
    _, during = incident
    page = desktop(watched)
    sign_in(watched, "alice", "pw-alice")
    page.goto(live_server.url + "/p/shop/client/?c=acme-mobile&range=1h")
    page.wait_for_selector("#activity")
    watched.shot("35-client")
    mine = [r for r in during if r.get("client") == "acme-mobile"]
    totals = watched.chart_totals("activity")
    assert totals["requests"] == len(mine)
    assert totals["conflicts"] == sum(1 for r in mine if r["status"] in CONFLICT_STATUSES)
    # The range links keep the client: another range shows the same client.
    page.click("nav.ranges a:has-text('6h')")
    page.wait_for_url("**range=6h*")
    assert page.inner_text("#client-name") == "acme-mobile"

    hot = max(
        {r["path"] for r in during if r["status"] in CONFLICT_STATUSES and r["method"] != "POST"},
        key=lambda p: sum(1 for r in during if r["path"] == p and r["status"] in CONFLICT_STATUSES),
    )
    page.goto(live_server.url + f"/p/shop/resource/?range=1h&r={hot}")
    page.wait_for_selector("#resource-conflicts")
    watched.shot("36-resource")
    drawn = sum(watched.chart_totals("resource-conflicts").values())
    assert drawn == sum(1 for r in during if r["path"] == hot and r["status"] in CONFLICT_STATUSES)
