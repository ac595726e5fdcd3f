"""Look-alike requests are two requests, not a request and its duplicate (DESIGN.md principle 3).

A record without a request id is keyed by a hash of its content (ingest/normalize.py:
dedup_key). Byte-identical log lines are common (the same client sending the same POST twice in
a second), so each such record also gets its occurrence number among the identical records of
its batch (HTTP, OTLP) or of its file (`importlog`, across the file's batches): the first keeps
the content key, the n-th gets a key made from the content key and n. The same batch or file
delivered again numbers its records the same way, so it is stored once.
"""

import hashlib

from ingest.record import NativeRecord

# The file-wide filter: 2**27 bits (16 MiB) remember every content key seen once; only the keys
# the filter has (probably) seen are counted exactly, so a log of millions of distinct lines
# costs a fixed 16 MiB rather than a dictionary entry per line.
FILTER_BITS = 1 << 27


def _numbered(key: str, n: int) -> str:
    return hashlib.blake2b(f"{key}#{n}".encode(), digest_size=16).hexdigest()


class BatchOccurrences:
    """Occurrence numbers within one batch (its records are in memory anyway)."""

    def __init__(self) -> None:
        self._counts: dict[str, int] = {}

    def number(self, records: list[NativeRecord]) -> None:
        """Give every look-alike after the first its own dedup key (in place)."""
        counts = self._counts
        for rec in records:
            if rec.request_id is not None:
                continue
            key = rec.dedup_key
            n = counts.get(key, 0)
            counts[key] = n + 1
            if n:
                rec.dedup_key = _numbered(key, n)


class FileOccurrences(BatchOccurrences):
    """Occurrence numbers across the batches of one file, in fixed memory.

    A key the filter has not seen is a first occurrence (number 0). A key it has seen is counted
    from 1 in a dictionary: a true repeat, or rarely a first occurrence the filter mistook for
    one (it is then numbered from 1, which is still unique). The numbers depend only on the
    file's records and their order, so a second import of the file numbers them the same.
    """

    def __init__(self) -> None:
        super().__init__()
        self._seen = bytearray(FILTER_BITS // 8)

    def number(self, records: list[NativeRecord]) -> None:
        seen, counts = self._seen, self._counts
        mask = FILTER_BITS - 1
        for rec in records:
            if rec.request_id is not None:
                continue
            key = rec.dedup_key
            first = int(key[:8], 16) & mask
            second = int(key[8:16], 16) & mask
            if seen[first >> 3] & (1 << (first & 7)) and seen[second >> 3] & (1 << (second & 7)):
                n = counts.get(key, 1)
                counts[key] = n + 1
                rec.dedup_key = _numbered(key, n)
            else:
                seen[first >> 3] |= 1 << (first & 7)
                seen[second >> 3] |= 1 << (second & 7)
