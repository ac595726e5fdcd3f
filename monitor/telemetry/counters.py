"""Counters of what ingest answered, kept by prometheus_client in each process.

Under gunicorn they are kept in prometheus_client's multi-process mode: every worker writes its
values to files in PROMETHEUS_MULTIPROC_DIR and /metrics sums them (gunicorn.conf.py sets the
directory and marks dead workers). `answer` is the HTTP status of an ingest request, or what
became of a record: accepted, duplicates, rejected (the fields of the ingest answer).
"""

from prometheus_client import Counter

INGEST_BATCHES = Counter(
    "conflictwatch_ingest_batches",
    "Ingest requests (bodies shipped to /ingest/), by the HTTP status ConflictWatch answered.",
    ["answer"],
)
INGEST_RECORDS = Counter(
    "conflictwatch_ingest_records",
    "Records shipped, by what became of them: accepted, duplicates, rejected.",
    ["answer"],
)
RECORD_ANSWERS = ("accepted", "duplicates", "rejected")


def count_answer(status: int) -> None:
    """Count one ingest request by the status of its answer."""
    INGEST_BATCHES.labels(answer=str(status)).inc()


def count_records(accepted: int, duplicates: int, rejected: int) -> None:
    """Count the records of one ingest request (or one importlog batch)."""
    for answer, n in zip(RECORD_ANSWERS, (accepted, duplicates, rejected), strict=True):
        if n:
            INGEST_RECORDS.labels(answer=answer).inc(n)
