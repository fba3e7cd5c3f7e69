"""The DuckDB projection of the log: rebuilt from events at any time, never the source of truth."""
