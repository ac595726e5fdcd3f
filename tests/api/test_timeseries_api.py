"""timeseries/: UTC-aligned, zero-filled buckets; grouping; p95 per bucket; bounded points."""

from datetime import UTC, datetime, timedelta

import pytest

from monitor.reads.series import MAX_POINTS, buckets, floor
from monitor.reads.timerange import TimeRange

API = "/api/v1/projects/shop/timeseries/"
# 10:00 UTC two days ago: inside the time ingest accepts (CONFLICTWATCH_MAX_RECORD_AGE_DAYS).
T0 = datetime.now(UTC).replace(hour=10, minute=0, second=0, microsecond=0) - timedelta(days=2)


def iso(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


def rec(i: int, at: datetime, **fields) -> dict:
    base = {
        "ts": iso(at),
        "method": "GET",
        "path": "/v1/orders/1",
        "status": 200,
        "duration_ms": 10,
        "client": "acme",
        "request_id": f"ts-{i}",
    }
    return {**base, **fields}


def query(**params) -> str:
    params.setdefault("from", iso(T0))
    params.setdefault("to", iso(T0 + timedelta(minutes=10)))
    return API + "?" + "&".join(f"{k}={v}" for k, v in params.items())


def test_buckets_are_aligned_to_utc_whatever_the_range_start():
    rng = TimeRange(T0 + timedelta(minutes=7, seconds=5), T0 + timedelta(minutes=21))
    assert buckets(rng, timedelta(minutes=5)) == [
        T0 + timedelta(minutes=5),
        T0 + timedelta(minutes=10),
        T0 + timedelta(minutes=15),
        T0 + timedelta(minutes=20),
    ]
    assert floor(T0 + timedelta(hours=13), timedelta(days=1)) == T0.replace(hour=0)


def test_it_counts_requests_per_minute_zero_filled(api, post_logs):
    post_logs(
        [
            rec(1, T0 + timedelta(seconds=5)),
            rec(2, T0 + timedelta(seconds=50)),
            rec(3, T0 + timedelta(minutes=3, seconds=1)),
        ]
    )
    body = api.get(query(interval="1m")).json()
    [series] = body["series"]
    assert series["name"] == "requests"
    assert [p["t"] for p in series["points"]] == [iso(T0 + timedelta(minutes=m)) for m in range(10)]
    assert [p["value"] for p in series["points"]] == [2, 0, 0, 1, 0, 0, 0, 0, 0, 0]


def test_an_empty_range_still_has_one_zero_series(api, shop):
    [series] = api.get(query(interval="5m")).json()["series"]
    assert [p["value"] for p in series["points"]] == [0, 0]


def test_it_groups_by_status_cause_and_endpoint(api, post_logs):
    post_logs(
        [
            rec(1, T0),
            rec(2, T0, status=412, method="PUT", request_headers={"If-Match": '"v1"'}),
            rec(3, T0 + timedelta(minutes=6), status=409, method="POST", path="/v1/orders"),
            rec(4, T0 + timedelta(minutes=6), status=500),
        ]
    )

    def by_name(**params):
        series = api.get(query(interval="5m", **params)).json()["series"]
        return {s["name"]: [p["value"] for p in s["points"]] for s in series}

    assert by_name(group="status") == {"200": [1, 0], "409": [0, 1], "412": [1, 0], "500": [0, 1]}
    assert by_name(metric="status") == by_name(group="status")
    assert by_name(metric="conflicts") == {"conflicts": [1, 1]}
    assert by_name(metric="conflicts", group="cause") == {
        "stale_version": [1, 0],
        "duplicate": [0, 1],
    }
    assert by_name(group="endpoint") == {
        "GET /v1/orders/{id}": [1, 1],
        "PUT /v1/orders/{id}": [1, 0],
        "POST /v1/orders": [0, 1],
    }


def test_it_reads_p95_per_bucket_from_the_latency_histograms(api, post_logs):
    post_logs(
        [rec(i, T0 + timedelta(seconds=i), duration_ms=10 + i) for i in range(20)]
        + [rec(100, T0 + timedelta(minutes=2), duration_ms=500)]
    )
    url = query(metric="p95_ms", interval="1m", to=iso(T0 + timedelta(minutes=3)))
    [series] = api.get(url).json()["series"]
    values = [p["value"] for p in series["points"]]
    assert values[0] == pytest.approx(28, rel=0.1)  # 19 of 20 durations are at most 28 ms
    assert values[1] is None
    assert values[2] == pytest.approx(500, rel=0.1)


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"metric": "bogus"}, "metric"),
        ({"interval": "2m"}, "interval"),
        ({"group": "client"}, "group"),
        ({"metric": "p95_ms", "group": "status"}, "group"),
        ({"metric": "status", "group": "endpoint"}, "group"),
        ({"interval": "1m", "from": "-7d", "to": "now"}, "interval"),
    ],
)
def test_a_bad_series_parameter_is_a_400_naming_it(api, shop, params, name):
    response = api.get(query(**params))
    assert response.status_code == 400
    assert response.json()["error"].startswith(name + ":")


def test_the_default_interval_is_the_finest_that_fits(api, shop):
    week = api.get(API + "?from=-7d").json()["series"][0]["points"]
    assert len(week) <= MAX_POINTS
    t = [datetime.fromisoformat(p["t"]) for p in week[:2]]
    assert t[1] - t[0] == timedelta(hours=1)
    day = api.get(API + "?from=-24h").json()["series"][0]["points"]
    assert len(day) in (1440, 1441)


@pytest.mark.parametrize("interval", ["1m", "5m", "1h", "1d"])
@pytest.mark.parametrize("group", [None, "endpoint"])
def test_p95_per_bucket_is_the_histogram_quantile_of_the_buckets_requests(
    shop, post_logs, interval, group
):
    from monitor.reads.series import INTERVALS, Query, timeseries
    from monitor.rules.latency import bucket_for, quantile

    records = [
        rec(i, T0 + timedelta(seconds=7 * i), duration_ms=(i * 37) % 400 + 1, method=m)
        for i in range(300)
        for m in ["GET" if i % 3 else "PUT"]
    ]
    post_logs(records)
    rng = TimeRange(T0 - timedelta(hours=1), T0 + timedelta(hours=23))
    step = INTERVALS[interval]
    expected: dict = {}
    for r in records:
        key = f"{r['method']} /v1/orders/{{id}}" if group else "p95_ms"
        hist = expected.setdefault(key, {}).setdefault(
            floor(datetime.fromisoformat(r["ts"]), step), {}
        )
        bucket = bucket_for(r["duration_ms"])
        hist[bucket] = hist.get(bucket, 0) + 1
    got = timeseries(shop, rng, Query("p95_ms", interval, group))["series"]
    assert {s["name"] for s in got} == set(expected)
    for s in got:
        values = {datetime.fromisoformat(p["t"]): p["value"] for p in s["points"]}
        per_bucket = expected[s["name"]]
        assert {t: v for t, v in values.items() if v is not None} == {
            t: quantile(h, 0.95) for t, h in per_bucket.items()
        }


@pytest.mark.parametrize("interval", ["5m", "1h", "1d"])
@pytest.mark.parametrize("group", [None, "status"])
def test_counts_per_bucket_over_a_ragged_range_are_the_raw_rows_of_the_bucket(
    api, post_logs, interval, group
):
    # Minutes at both ends, whole hours and a day boundary between: rollup pieces of several
    # grains fall in one bucket (an hour or a day) and must be added up, not overwritten.
    offsets = [-50, -1, 3, 59, 60, 61, 125, 13 * 60 + 59, 14 * 60, 14 * 60 + 1, 25 * 60 + 10]
    records = [
        rec(i, T0 + timedelta(minutes=m, seconds=i), status=(200, 409, 500)[i % 3])
        for i, m in enumerate(offsets)
    ]
    post_logs(records)
    start, end = T0 - timedelta(minutes=52, seconds=43), T0 + timedelta(hours=25, minutes=30)
    step = {"5m": timedelta(minutes=5), "1h": timedelta(hours=1), "1d": timedelta(days=1)}[interval]
    expected: dict = {}
    for r in records:
        key = str(r["status"]) if group else "requests"
        t = iso(floor(datetime.fromisoformat(r["ts"]), step))
        expected.setdefault(key, {}).setdefault(t, 0)
        expected[key][t] += 1
    params = {"interval": interval, "from": iso(start), "to": iso(end)}
    if group:
        params["group"] = group
    body = api.get(query(**params)).json()
    stamps = [iso(t) for t in buckets(TimeRange(start, end), step)]
    assert {s["name"] for s in body["series"]} == set(expected)
    for s in body["series"]:
        assert [p["t"] for p in s["points"]] == stamps
        assert {p["t"]: p["value"] for p in s["points"] if p["value"]} == expected[s["name"]]


@pytest.mark.parametrize("metric", ["requests", "p95_ms"])
def test_a_filter_with_percent_signs_and_quotes_is_a_plain_value(api, post_logs, metric):
    post_logs([rec(1, T0, duration_ms=12)])
    # route=/v1/100%%s'x: placeholders and quotes in a value never reach the SQL as such.
    response = api.get(query(metric=metric, interval="1m", route="/v1/100%25%25s'x"))
    assert response.status_code == 200
    [series] = response.json()["series"]
    assert {p["value"] for p in series["points"]} == ({0} if metric == "requests" else {None})
    matched = api.get(query(metric=metric, interval="1m", route="/v1/orders/{id}")).json()
    assert matched["series"][0]["points"][0]["value"]
