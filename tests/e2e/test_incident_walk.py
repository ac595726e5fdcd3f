"""The on-call walk: sign in, overview → endpoint → conflict → request → race partner."""

from datetime import UTC, datetime, timedelta

from monitor.demo.simulation import Simulator


def test_on_call_walks_from_overview_to_the_race_partner(
    watched, sign_in, ship, alice, live_server
):
    sim = Simulator(seed=3)
    start = datetime.now(UTC) - timedelta(minutes=40)
    records = sim.traffic(start, 30 * 60, 2)
    for i in range(0, len(records), 500):
        ship(records[i : i + 500])
    page = watched.page

    sign_in(watched, "alice", "pw-alice")
    page.click("text=Shop API")
    page.wait_for_selector("#traffic")
    watched.shot("01-overview")
    totals = watched.chart_totals("traffic")
    status_classes = {k: v for k, v in totals.items() if k != "conflicts"}
    assert sum(status_classes.values()) == len(records)
    conflicts = sum(1 for r in records if r["status"] in (409, 412, 423, 428))
    assert totals["conflicts"] == conflicts

    # The endpoint where clients race: PATCH /v1/orders/{id}.
    page.click("#endpoints tr:has-text('PATCH /v1/orders/{id}') a")
    page.wait_for_selector("#timeline")
    watched.shot("02-endpoint")
    timeline = watched.chart_totals("timeline")
    patch_conflicts = sum(
        1
        for r in records
        if r["method"] == "PATCH" and r["path"].startswith("/v1/orders/") and r["status"] == 409
    )
    assert sum(timeline.values()) == patch_conflicts
    assert timeline.get("concurrent_write", 0) > 0
    patches = sum(
        1 for r in records if r["method"] == "PATCH" and r["path"].startswith("/v1/orders/")
    )
    assert sum(watched.chart_totals("traffic").values()) - timeline_conflicts(watched) == patches
    latency = watched.page.evaluate(
        "() => Chart.getChart(document.getElementById('latency')).data.datasets"
        ".map(d => [d.label, d.data.filter(v => v !== null).length])"
    )
    assert [name for name, _ in latency] == ["p50 ms", "p95 ms"]
    assert all(points > 0 for _, points in latency)

    # A conflict that lost a race, then its race partner.
    page.click("#recent-conflicts tbody tr:has-text('concurrent_write') a >> nth=0")
    page.wait_for_selector("#conflict")
    watched.shot("03-conflict")
    assert "concurrent_write" in page.inner_text("#conflict")
    assert "successful PATCH" in page.inner_text("#cause-reason")
    page.click("#race-winner a")
    page.wait_for_selector("#fields")
    watched.shot("04-race-partner")
    assert "200" in page.inner_text("h1")

    # Change the time range.
    page.goto(live_server.url + "/p/shop/")
    page.click("nav.ranges a:has-text('1h')")
    page.wait_for_url("**range=1h*")
    assert "last 1h" in page.inner_text("h1")
    watched.shot("05-last-hour")
    before = sum(watched.chart_totals("traffic").values())

    # Drag across the middle of the chart: the page reloads with that window only.
    box = page.query_selector("#traffic").bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * 0.4, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.6, y, steps=5)
    page.mouse.up()
    page.wait_for_url("**from=*")
    page.wait_for_selector("#traffic")
    assert page.query_selector("details.custom-range.active") is not None
    zoomed = sum(watched.chart_totals("traffic").values())
    assert 0 < zoomed < before
    watched.shot("06-zoomed")

    # A phone: the overview and the explorer fit 390 px without a horizontal scroll of the page.
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(live_server.url + "/p/shop/")
    page.wait_for_selector("#traffic")
    watched.shot("07-phone-overview")
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 400
    page.goto(live_server.url + "/p/shop/requests/?status=409")
    page.wait_for_selector("#explorer-rows")
    watched.shot("08-phone-explorer")
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 400


def timeline_conflicts(watched) -> int:
    """The conflicts line of the endpoint's traffic chart (drawn on top of the status bars)."""
    return watched.chart_totals("traffic").get("conflicts", 0)
