"""Latency histogram buckets: logarithmic, 10% wide, so p50/p95 read from rollups are within 10%.

Bucket 0 holds everything up to 0.1 ms; bucket b holds (0.1·1.1^(b-1), 0.1·1.1^b] ms.
"""

import math

BASE_MS = 0.1
GROWTH = 1.1
_LOG_GROWTH = math.log(GROWTH)
MAX_BUCKET = 200  # about 18 hours


def bucket_for(ms: float) -> int:
    if ms <= BASE_MS:
        return 0
    return min(MAX_BUCKET, math.ceil(math.log(ms / BASE_MS) / _LOG_GROWTH - 1e-9))


def bucket_upper_ms(bucket: int) -> float:
    return BASE_MS * GROWTH**bucket


def quantile(counts: dict[int, int], q: float) -> float | None:
    """The q-quantile (0-1) of a histogram {bucket: n}, as the bucket's upper bound in ms."""
    total = sum(counts.values())
    if total == 0:
        return None
    rank = q * total
    seen = 0
    for bucket in sorted(counts):
        seen += counts[bucket]
        if seen >= rank:
            return round(bucket_upper_ms(bucket), 3)
    return round(bucket_upper_ms(max(counts)), 3)
