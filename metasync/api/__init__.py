"""metasync's REST API (``/api/v1``), its keys, and the health figures it shares with the
console and the metrics."""
