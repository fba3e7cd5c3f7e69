"""One commit's worth of decoded records, kept as Arrow chunks (see the projector)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from lineage.errors import LineageError
from lineage.log.base import LogEntry
from lineage.projection.position import fingerprint

_TS = pa.timestamp("us")
_STR = pa.string()
QUARANTINE_SCHEMA = pa.schema(
    [
        ("log_partition", pa.int32()),
        ("log_offset", pa.int64()),
        ("next_offset", pa.int64()),
        ("reason", _STR),
        ("payload", pa.binary()),
        ("seen_at", _TS),
    ]
)


# Decoded dicts are turned into Arrow this many at a time: a dict per event costs tens of
# times the memory of its Arrow row, so a commit's batch is kept as Arrow chunks.
CHUNK_ROWS = 8_192
# DuckDB writes an insert of at least one row group (122,880 rows) straight into the database
# file; smaller commits go through the WAL and are copied again by every checkpoint (measured:
# 2-3x slower projection at 50,000).
DEFAULT_BATCH_SIZE = 122_880


class Batch:
    """Decoded records of one commit. Arrow converts the dicts in C++; the mapping onto the
    projection's columns is SQL (``queries/apply_batch.sql``)."""

    def __init__(self, row_type: pa.StructType) -> None:
        self.row_type = row_type
        self.rows: list[dict[str, Any]] = []
        self.chunks: list[pa.Table] = []
        # (partition, offset, next_offset, reason, payload, key)
        self.quarantine: list[tuple[int, int, int, str, bytes | None, bytes | None]] = []
        self.positions: dict[int, int] = {}
        # Per partition: the last record taken, as (offset, fingerprint) or its entry.
        self._last: dict[int, LogEntry | tuple[int, int]] = {}
        self.size = 0
        self.seen: set[str] = set()
        self.repeats = 0
        # Chunks from several decoders (worker processes) are each free of repeats, but not
        # of each other's: table() then checks the whole batch.
        self.merged = False

    def take(
        self,
        entry: LogEntry,
        decode: Callable[[bytes], dict[str, Any]],
        check: Callable[[dict[str, Any]], None],
    ) -> None:
        """Step 2 for one record: decode and check it, or set it aside."""
        self.positions[entry.partition] = entry.next_offset
        self._last[entry.partition] = entry  # fingerprinted once, at the commit
        self.size += 1
        value = entry.value
        if value is None:
            reason = entry.error or "?"
            self.quarantine.append(
                (entry.partition, entry.offset, entry.next_offset, reason, None, entry.key)
            )
            return
        try:
            rec = decode(value)
            check(rec)
        except LineageError as exc:
            self.quarantine.append(
                (entry.partition, entry.offset, entry.next_offset, str(exc), value, entry.key)
            )
        else:
            self.add(entry, rec)

    def add(self, entry: LogEntry, rec: dict[str, Any]) -> None:
        event_id = rec["envelope"]["event_id"]
        if event_id in self.seen:  # the same event twice in one batch: first position wins
            self.repeats += 1
            return
        self.seen.add(event_id)
        rec["log_partition"] = entry.partition
        rec["log_offset"] = entry.offset
        self.rows.append(rec)
        if len(self.rows) >= CHUNK_ROWS:
            self._convert()

    def _convert(self) -> None:
        self.chunks.append(pa.Table.from_struct_array(pa.array(self.rows, type=self.row_type)))
        self.rows = []

    def table(self) -> pa.Table:
        if self.rows or not self.chunks:
            self._convert()
        table = pa.concat_tables(self.chunks)
        return self._unique(table) if self.merged else table

    def merge(
        self,
        chunk: pa.Table | None,
        size: int,
        repeats: int,
        quarantine: list[tuple[int, int, int, str, bytes | None, bytes | None]],
        positions: dict[int, int],
        last: dict[int, tuple[int, int]],
    ) -> None:
        """Add a chunk decoded elsewhere; ``positions`` cover every record before it, and
        ``last`` fingerprints the record before each (see ``last_records``)."""
        self.merged = True
        self._last.update(last)
        if chunk is not None and chunk.num_rows:
            self.chunks.append(chunk)
        self.size += size
        self.repeats += repeats
        self.quarantine.extend(quarantine)
        self.positions.update(positions)

    def last_records(self) -> dict[int, tuple[int, int]]:
        """Per partition, (offset, fingerprint) of the last record: stored beside the
        position so that a later run can check the log still holds it there."""
        out = {}
        for partition, last in self._last.items():
            if isinstance(last, LogEntry):
                last = (last.offset, fingerprint(last.value))
            out[partition] = last
        return out

    def _unique(self, table: pa.Table) -> pa.Table:
        ids = pc.struct_field(table.column("envelope"), "event_id")
        if pc.count_distinct(ids).as_py() == table.num_rows:
            return table  # the usual case, checked in C++
        keep: list[int] = []
        seen: set[str] = set()
        for i, event_id in enumerate(ids.to_pylist()):
            if event_id not in seen:  # first position wins, as in one decoder
                seen.add(event_id)
                keep.append(i)
        self.repeats += table.num_rows - len(keep)
        return table.take(keep)

    def quarantine_table(self) -> pa.Table:
        now = datetime.now(UTC).replace(tzinfo=None)
        rows = self.quarantine
        return pa.Table.from_pydict(
            {
                "log_partition": [r[0] for r in rows],
                "log_offset": [r[1] for r in rows],
                "next_offset": [r[2] for r in rows],
                "reason": [r[3] for r in rows],
                "payload": [r[4] for r in rows],
                "seen_at": [now] * len(rows),
            },
            schema=QUARANTINE_SCHEMA,
        )
