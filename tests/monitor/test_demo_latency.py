"""The demo's endpoints take times of their own, as a real API's do: a payment waits on its
provider, a list reads more than an item. With one distribution for all, their p95s fell in
the same histogram bucket and every endpoint showed the same figure, which looks invented."""

import re
import statistics
from collections import defaultdict
from datetime import UTC, datetime, timedelta

from monitor.demo.simulation import Simulator


def test_the_demo_endpoints_have_latencies_of_their_own():
    records = Simulator(seed=3).traffic(datetime.now(UTC) - timedelta(hours=3), 120, 60)
    durations = defaultdict(list)
    for r in records:
        route = re.sub(r"/(SKU-)?\d+", "/{id}", r["path"])
        durations[r["method"], route].append(r["duration_ms"])
    p95 = {
        endpoint: statistics.quantiles(times, n=20)[-1]
        for endpoint, times in durations.items()
        if len(times) >= 100
    }
    assert len(p95) >= 6, sorted(durations)
    # No two endpoints within 3.2% of each other (a histogram bucket's width).
    ordered = sorted(p95.values())
    close = [(a, b) for a, b in zip(ordered, ordered[1:], strict=False) if b < a * 1.032]
    assert len(close) <= len(ordered) // 3, p95
    assert ordered[-1] > 3 * ordered[0], p95
