"""Sampling of successful reads (CONFLICTWATCH_SAMPLE_SUCCESSFUL_READS, 0–1, default 1).

A successful GET or HEAD (status below 400) is stored as a raw row with that probability,
decided by its dedup key (the same record is always kept or always left out, whichever door
or retry brings it). Everything else is always stored: writes, failures and conflicts — so a
conflict keeps its race partner (a write) and its retry chain (writes).

A record left out is still counted. Its dedup key goes into `ingest_sampled_key` (a narrow
table, pruned with the raw rows) so that a resent record is still a duplicate, and what the
rollups need of it rides on its batch (`IngestBatch.sampled`) for the aggregation to add in
the same exactly-once transaction as the stored rows.
"""

import hashlib

from django.conf import settings

SAMPLED_METHODS = frozenset({"GET", "HEAD"})


def rate() -> float:
    return float(settings.CONFLICTWATCH_SAMPLE_SUCCESSFUL_READS)


def keep(method: str, status: int, dedup_key: str, sample_rate: float) -> bool:
    """Whether the record goes into the raw table."""
    if sample_rate >= 1.0 or method not in SAMPLED_METHODS or status >= 400:
        return True
    digest = hashlib.blake2b(dedup_key.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64 < sample_rate
