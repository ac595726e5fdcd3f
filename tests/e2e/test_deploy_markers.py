"""A deploy posted through the API shows as a marker on the overview, endpoint and client charts:
read back from the Chart.js instance in real Chromium, and seen drawn on the canvas."""

from datetime import UTC, datetime, timedelta

import httpx
from rest_framework.authtoken.models import Token

from tests.alerts.conftest import records_for

# A marker drawn on the canvas: the deploy's dashed blue line in the column of its bucket.
MARKER = """(id) => {
    const chart = Chart.getChart(document.getElementById(id));
    const markers = chart.config.options.plugins.cwMarkers.markers;
    const area = chart.chartArea;
    return markers.filter((m) => m.kind === "deploy").map((m) => {
        const x = chart.scales.x.getPixelForValue(m.at);
        const ratio = chart.currentDevicePixelRatio;
        const column = chart.ctx.getImageData(
            Math.round(x * ratio), Math.round(area.top * ratio), 1,
            Math.round((area.bottom - area.top) * ratio)).data;
        let blue = 0;
        for (let i = 0; i < column.length; i += 4) {
            const [r, g, b] = [column[i], column[i + 1], column[i + 2]];
            if (b > 150 && b > r + 60 && b > g) { blue += 1; }
        }
        return {label: m.label, ts: m.ts, bucket: chart.data.labels[m.at],
                step: chart.config.data.labels.length > 1
                    ? (Date.parse(chart.data.labels[1]) - Date.parse(chart.data.labels[0])) / 1000
                    : 0,
                inside: x >= area.left && x <= area.right, blue: blue};
    });
}"""


def _check(markers: list[dict], version: str, deployed: datetime) -> None:
    [marker] = [m for m in markers if m["label"] == version]
    assert marker["inside"]
    assert marker["ts"] == deployed.strftime("%Y-%m-%dT%H:%M:%SZ")
    bucket = datetime.fromisoformat(marker["bucket"])
    assert bucket <= deployed < bucket + timedelta(seconds=marker["step"])
    assert marker["blue"] > 10, "the dashed deploy line is not on the canvas"


def test_a_deploy_posted_through_the_api_is_marked_on_every_chart(
    watched, sign_in, ship, alice, live_server
):
    start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=50)
    ship(records_for(start, 300, 60, tag="e2e", span_seconds=45 * 60))
    deployed = start + timedelta(minutes=20)
    key = Token.objects.create(user=alice).key
    for version, at in (("v2.4.0", deployed), ('<img src=x onerror="alert(1)">', start)):
        answer = httpx.post(
            live_server.url + "/api/v1/projects/shop/deploys/",
            json={"version": version, "ts": at.isoformat(), "environment": "production"},
            headers={"Authorization": f"Token {key}"},
            timeout=30,
        )
        assert answer.status_code == 201, answer.text

    page = watched.page
    sign_in(watched, "alice", "pw-alice")
    page.goto(live_server.url + "/p/shop/?range=1h")
    page.wait_for_selector("#traffic")
    watched.shot("deploy-01-overview")
    _check(page.evaluate(MARKER, "traffic"), "v2.4.0", deployed)
    assert "v2.4.0 (production)" in page.inner_text("#deploy-markers")
    assert '<img src=x onerror="alert(1)">' in page.inner_text("#deploy-markers")

    page.click("#endpoints tr:has-text('PUT /v1/orders/{id}') a")
    page.wait_for_selector("#deploy-comparison")
    watched.shot("deploy-02-endpoint")
    for chart in ("timeline", "traffic", "latency"):
        _check(page.evaluate(MARKER, chart), "v2.4.0", deployed)
    assert "Deploy v2.4.0" in page.inner_text("#deploy-comparison h2")

    page.goto(live_server.url + "/p/shop/client/?range=1h&c=acme-mobile")
    page.wait_for_selector("#activity")
    _check(page.evaluate(MARKER, "activity"), "v2.4.0", deployed)
