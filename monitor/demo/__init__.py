"""The live demo: simulated traffic through the real ingest endpoint, and the in-process
runner of the periodic tasks."""
