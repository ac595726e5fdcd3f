"""Latency quantiles read from the rollups are within 2% of the exact value computed from the
raw rows, so two endpoints whose latencies differ show different p95s (not the same bucket
bound for both)."""

import math
import random
from datetime import UTC, datetime, timedelta

import pytest

from ingest.models import Request
from monitor.models import Endpoint
from monitor.rules import latency

# 10:00 UTC yesterday: one UTC day, inside the time ingest accepts.
T0 = datetime.now(UTC).replace(hour=10, minute=0, second=0, microsecond=0) - timedelta(days=1)
API = "/api/v1/projects/shop/"
WINDOW = "from={}&to={}".format(
    T0.isoformat().replace("+00:00", "Z"),
    (T0 + timedelta(hours=2)).isoformat().replace("+00:00", "Z"),
)
# (path, median ms, spread): the second is the first 5% slower, the third is wider.
SHAPES = [("/v1/fast", 50.0, 0.3), ("/v1/fast-ish", 52.5, 0.3), ("/v1/wide", 40.0, 0.6)]


def traffic(per_endpoint: int = 1500) -> list[dict]:
    rnd = random.Random(18)
    out = []
    for path, median, sigma in SHAPES:
        for i in range(per_endpoint):
            at = T0 + timedelta(seconds=rnd.uniform(0, 7200))
            out.append(
                {
                    "ts": at.isoformat().replace("+00:00", "Z"),
                    "method": "GET",
                    "path": path,
                    "status": 200,
                    "duration_ms": round(rnd.lognormvariate(math.log(median), sigma), 3),
                    "client": "acme",
                    "request_id": f"{path}-{i}",
                }
            )
    return out


def exact(durations: list[float], q: float) -> float:
    """The q-quantile of the raw values (nearest rank)."""
    ordered = sorted(durations)
    return ordered[math.ceil(q * len(ordered)) - 1]


def raw_durations(route: str) -> list[float]:
    return list(Request.objects.filter(route=route).values_list("duration_ms", flat=True))


def test_the_bound_of_the_quantile_rule_is_under_2_percent():
    assert latency.RELATIVE_ERROR < 0.016
    # Any value is read back within the bound (the value every quantile in its bucket gets).
    for ms in [0.15, 1.0, 3.7, 59.3, 59.4, 123.456, 999.9, 12_345.0]:
        estimate = latency.bucket_value_ms(latency.bucket_for(ms))
        assert abs(estimate - ms) / ms <= latency.RELATIVE_ERROR + 1e-3 / ms


@pytest.mark.parametrize("q", [0.5, 0.95])
def test_endpoints_with_different_latencies_show_different_quantiles_within_2_percent(
    api, post_logs, q
):
    post_logs(traffic())
    key = "p95_ms" if q == 0.95 else "p50_ms"
    answer = api.get(API + "endpoints/?" + WINDOW).json()
    rows = answer if isinstance(answer, list) else answer["results"]
    shown = {row["route"]: row[key] for row in rows}
    assert set(shown) == {path for path, *_ in SHAPES}
    assert len(set(shown.values())) == len(SHAPES), shown
    for route, value in shown.items():
        truth = exact(raw_durations(route), q)
        assert abs(value - truth) / truth <= 0.02, (route, value, truth)
    # The same figure in the summary of one endpoint and in its p95 series over one bucket.
    if q == 0.95:
        for route, value in shown.items():
            ep = Endpoint.objects.get(route=route).id
            summary = api.get(f"{API}summary/?endpoint={ep}&{WINDOW}").json()
            assert summary["p95_ms"] == value
            series = api.get(
                f"{API}timeseries/?metric=p95_ms&interval=1d&endpoint={ep}&{WINDOW}"
            ).json()["series"][0]["points"]
            assert [p["value"] for p in series if p["value"] is not None] == [value]


def test_the_p95_series_per_hour_is_within_2_percent_of_each_hours_raw_rows(api, post_logs):
    post_logs(traffic(3000))
    ep = Endpoint.objects.get(route="/v1/wide").id
    points = api.get(f"{API}timeseries/?metric=p95_ms&interval=1h&endpoint={ep}&{WINDOW}").json()[
        "series"
    ][0]["points"]
    assert len([p for p in points if p["value"] is not None]) == 2
    for p in points:
        if p["value"] is None:
            continue
        start = datetime.fromisoformat(p["t"].replace("Z", "+00:00"))
        rows = Request.objects.filter(
            endpoint_id=ep, ts__gte=start, ts__lt=start + timedelta(hours=1)
        ).values_list("duration_ms", flat=True)
        truth = exact(list(rows), 0.95)
        assert abs(p["value"] - truth) / truth <= 0.02, (p, truth)


def test_the_heatmap_counts_every_request_in_the_band_of_its_latency(shop, post_logs):
    from monitor.reads import charts
    from monitor.reads.timerange import TimeRange

    post_logs(traffic(400))
    rng = TimeRange(T0, T0 + timedelta(hours=2))
    _, heat = charts.latency_charts(shop, rng, compare=False)
    expected: dict[int, int] = {}
    for ms in Request.objects.values_list("duration_ms", flat=True):
        upper = latency.bucket_upper_ms(latency.bucket_for(ms))
        band = next(
            (i for i, edge in enumerate(charts.HEATMAP_EDGES) if upper <= edge),
            len(charts.HEATMAP_EDGES),
        )
        expected[band] = expected.get(band, 0) + 1
    low = min(expected)
    got: dict[int, int] = {}
    for _, band, n in heat["cells"]:
        got[band + low] = got.get(band + low, 0) + n
    assert got == expected
    assert len(heat["bands"]) == max(expected) - low + 1
