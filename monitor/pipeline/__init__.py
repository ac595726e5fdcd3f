"""Aggregation of an ingest batch: reading its rows, the conflict analysis, the counts, the
rollup writes and the write-back of decisions, finalisation of pending outcomes, retention."""
