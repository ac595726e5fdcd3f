"""ConflictWatch watched by Prometheus: the counters ingest increments (counters.py), the gauges
read from the database at scrape time (collector.py), and GET /metrics (views.py)."""
