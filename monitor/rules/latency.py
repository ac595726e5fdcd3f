"""Latency histogram buckets and the quantile rule: logarithmic buckets about 3.2% wide, so a
quantile read from the rollups is within 1.6% of the true value.

Bucket 0 holds everything up to 0.1 ms; bucket b holds (0.1·g^(b-1), 0.1·g^b] ms, where
g = 1.1^(1/3) (each bucket of the earlier 10% histogram split in three). A quantile is the
value at the rank's bucket that is equally far, relatively, from both of its bounds:
2·lo·hi / (lo + hi). Whatever the true value inside the bucket, the error is then at most
(g - 1) / (g + 1) ≈ 1.59% (the rule of the DDSketch paper, Masson et al., VLDB 2019).

Three buckets per earlier bucket keep the rollups compact: an hour of a busy endpoint fills
about a hundred of them, against some thirty before.
"""

import math
from bisect import bisect_left
from itertools import accumulate

BASE_MS = 0.1
SPLIT = 3  # buckets per 10% step
GROWTH = 1.1 ** (1 / SPLIT)
_LOG_GROWTH = math.log(GROWTH)
MAX_BUCKET = 200 * SPLIT  # about 18 hours
# The bound of the relative error of every quantile (before rounding to 3 decimals).
RELATIVE_ERROR = (GROWTH - 1) / (GROWTH + 1)


def bucket_for(ms: float) -> int:
    if ms <= BASE_MS:
        return 0
    return min(MAX_BUCKET, math.ceil(math.log(ms / BASE_MS) / _LOG_GROWTH - 1e-9))


def bucket_upper_ms(bucket: int) -> float:
    return BASE_MS * GROWTH**bucket


def bucket_value_ms(bucket: int) -> float:
    """The value a quantile that falls in `bucket` is read as (see the module docstring)."""
    if bucket <= 0:
        return BASE_MS
    hi = bucket_upper_ms(bucket)
    return round(2 * hi / (GROWTH + 1), 3)


def rank_reached(seen: int, total: int, q: float) -> bool:
    """Whether `seen` of `total` requests reach the q-quantile's rank."""
    return seen >= q * total


def quantile(counts: dict[int, int], q: float) -> float | None:
    """The q-quantile (0-1) of a histogram {bucket: n} in ms, None when it is empty."""
    ordered = sorted(counts)
    return quantiles_of(ordered, [counts[b] for b in ordered], (q,))[0]


def quantiles_of(buckets: list[int], counts: list[int], qs) -> list[float | None]:
    """The quantiles `qs` of a histogram given as its buckets and their counts (any order;
    None each when it is empty)."""
    if buckets != sorted(buckets):  # sorted() of a sorted list is one cheap pass
        pairs = sorted(zip(buckets, counts, strict=True))
        buckets, counts = [b for b, _ in pairs], [n for _, n in pairs]
    seen = list(accumulate(counts))
    total = seen[-1] if seen else 0
    if total == 0:
        return [None] * len(qs)
    # The first bucket where rank_reached(seen, total, q), i.e. seen >= q * total.
    return [bucket_value_ms(buckets[min(bisect_left(seen, q * total), len(seen) - 1)]) for q in qs]
