"""For simulated traffic, summary/, endpoints/, timeseries/ and the CSV export agree with each
other and with counts taken from the raw rows."""

import csv
import io
from collections import Counter
from datetime import datetime

from ingest.models import Request
from monitor.rules.causes import CONFLICT_STATUSES
from tests.api.conftest import TRAFFIC_SECONDS, TRAFFIC_START

API = "/api/v1/projects/shop/"


def test_summary_endpoints_timeseries_and_csv_agree_with_the_raw_rows(api, traffic):
    window = "from=-24h"
    summary = api.get(API + f"summary/?{window}").json()
    endpoints = api.get(API + f"endpoints/?{window}").json()
    series = api.get(API + f"timeseries/?{window}&interval=5m&group=status").json()["series"]
    conflicts = api.get(API + f"timeseries/?{window}&interval=1h&metric=conflicts&group=cause")
    export = api.get(API + f"export/requests.csv?{window}")
    rows = list(csv.DictReader(io.StringIO(b"".join(export.streaming_content).decode())))

    raw = Request.objects.filter(project__slug="shop")
    raw_status = Counter(str(s) for s in raw.values_list("status", flat=True))
    raw_causes = Counter(c for c in raw.values_list("cause", flat=True) if c)
    assert raw.count() == len(traffic)
    assert sum(raw_causes.values()) == raw.filter(status__in=CONFLICT_STATUSES).count() > 0

    assert summary["requests"] == len(traffic)
    assert summary["by_status"] == dict(raw_status)
    assert summary["by_cause"] == dict(raw_causes)
    assert summary["conflicts"] == sum(raw_causes.values())

    assert sum(e["requests"] for e in endpoints) == summary["requests"]
    assert sum(e["conflicts"] for e in endpoints) == summary["conflicts"]
    per_endpoint = Counter(raw.values_list("endpoint_id", flat=True))
    assert {e["id"]: e["requests"] for e in endpoints} == dict(per_endpoint)

    assert {s["name"]: sum(p["value"] for p in s["points"]) for s in series} == dict(raw_status)
    by_cause = {s["name"]: sum(p["value"] for p in s["points"]) for s in conflicts.json()["series"]}
    assert by_cause == dict(raw_causes)

    assert len(rows) == len(traffic)
    assert Counter(r["status"] for r in rows) == raw_status
    assert Counter(r["cause"] for r in rows if r["cause"]) == raw_causes


def test_each_timeseries_bucket_holds_the_raw_rows_of_its_minutes(api, traffic):
    start = TRAFFIC_START.isoformat().replace("+00:00", "Z")
    body = api.get(API + f"timeseries/?from={start}&to=now&interval=1m")
    points = body.json()["series"][0]["points"]
    raw = Counter(
        ts.replace(second=0, microsecond=0)
        for ts in Request.objects.filter(project__slug="shop").values_list("ts", flat=True)
    )
    assert len(points) >= TRAFFIC_SECONDS // 60
    assert {
        datetime.fromisoformat(p["t"].replace("Z", "+00:00")): p["value"]
        for p in points
        if p["value"]
    } == dict(raw)
