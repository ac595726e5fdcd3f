"""Pure decisions, no SQL: the cause of a conflict, the retry outcome of a client, latency
buckets and quantiles."""
