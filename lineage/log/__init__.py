"""The event log: an ordered, durable sequence of encoded events, readable from a position."""

from lineage.log.base import AppendResult, Log, LogEntry, LogRecord

__all__ = ["AppendResult", "Log", "LogEntry", "LogRecord"]
