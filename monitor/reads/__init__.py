"""Everything the pages, the API and the alerts read: totals and series from the rollups,
conflicts and requests through the raw table's indexes, remedies, time ranges."""
