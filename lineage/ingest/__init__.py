"""The ingest layer: every producer of events (``lineage emit``, the HTTP ingest, webhooks,
connectors, the SDK) records through ``lineage.ingest.record`` (edge, batching, durable
append)."""
