"""One commit's worth of decoded records, kept as Arrow chunks (see the projector)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc

from lineage.codec import Codec
from lineage.errors import LineageError
from lineage.events.taxonomy import Taxonomy
from lineage.events.validate import (
    CHECKED_FIELDS,
    LIST_FIELDS,
    SUBJECT_REF_PATTERN,
    RecordValidator,
    may_be_empty,
)
from lineage.log.base import LogEntry
from lineage.projection.position import fingerprint

if TYPE_CHECKING:
    from lineage.codec.blocks import BlockDecoder

# A record set aside: (partition, offset, next_offset, reason, payload, key).
Quarantined = tuple[int, int, int, str, bytes | None, bytes | None]

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


# Records are decoded this many at a time (``Decoder``), and kept as Arrow chunks: a dict
# per event costs tens of times the memory of its Arrow row.
CHUNK_ROWS = 8_192
# DuckDB writes an insert of at least one row group (122,880 rows) straight into the database
# file; smaller commits go through the WAL and are copied again by every checkpoint (measured:
# 2-3x slower projection at 50,000).
DEFAULT_BATCH_SIZE = 122_880
# From this many records in a chunk, they are decoded in blocks straight into Arrow
# (``lineage.codec.blocks``); fewer (a follower's or a command's small catch-up) are not worth
# importing polars for.
BLOCK_MIN = 1_024


class Decoder:
    """Step 2 for a chunk of records: decode and check, into Arrow rows or set-aside records.

    Records of the current schemas are decoded in blocks into Arrow columns and checked per
    distinct value of each checked field (``RecordValidator.passes``). A group that fails
    any of that, and every other record, takes the per-record path (``Codec.decode_raw`` and
    ``RecordValidator.check``), whose errors name the record's fault; both paths give the
    same rows."""

    def __init__(
        self, codec: Codec, taxonomy: Taxonomy, row_type: pa.StructType, *, blocks: bool = True
    ) -> None:
        self.codec = codec
        self.validator = RecordValidator(taxonomy)
        self.row_type = row_type
        self.blocks = blocks
        self._block: BlockDecoder | None = None
        self.block_rows = 0  # rows decoded in blocks (the rest: one by one)

    def decode(
        self, entries: Sequence[LogEntry], quarantine: list[Quarantined]
    ) -> list[tuple[pa.Table, list[int]]]:
        """Tables of decoded rows, each with the indexes of its rows in ``entries``; the
        records set aside are appended to ``quarantine`` in log order."""
        values = [e.value for e in entries]
        out: list[tuple[pa.Table, list[int]]] = []
        if self.blocks and len(entries) >= BLOCK_MIN:
            if self._block is None:
                from lineage.codec.blocks import BlockDecoder

                self._block = BlockDecoder(self.codec, self.row_type)
            block = self._block
            decoded, left = block.decode(values)
            for event_type, table, indexes in decoded:
                if self._passes(event_type, table):
                    self.block_rows += table.num_rows
                    out.append((self._positioned(table, entries, indexes), indexes))
                else:
                    left.extend(indexes)
            left.sort()
        else:
            left = list(range(len(entries)))
        rows: list[dict[str, Any]] = []
        kept: list[int] = []
        decode = self.codec.decode_raw
        check = self.validator.check
        for i in left:
            entry = entries[i]
            value = values[i]
            if value is None:
                reason = entry.error or "?"
                quarantine.append(
                    (entry.partition, entry.offset, entry.next_offset, reason, None, entry.key)
                )
                continue
            try:
                rec = decode(value)
                check(rec)
            except LineageError as exc:
                quarantine.append(
                    (entry.partition, entry.offset, entry.next_offset, str(exc), value, entry.key)
                )
                continue
            rec["log_partition"] = entry.partition
            rec["log_offset"] = entry.offset
            rows.append(rec)
            kept.append(i)
        if rows:
            out.append((pa.Table.from_struct_array(pa.array(rows, type=self.row_type)), kept))
        return out

    def _passes(self, event_type: str, table: pa.Table) -> bool:
        """``RecordValidator.check`` for every row of one event type's table, in Arrow: the
        references by pattern, the other checked fields per distinct value."""
        refs = pc.struct_field(table.column("envelope"), "subject_ref")
        if not pc.all(pc.match_substring_regex(refs, SUBJECT_REF_PATTERN)).as_py():
            return False
        linked = table.column("linked_ref")
        if 0 < len(linked) - linked.null_count < len(linked):
            return False  # IdentityLinked, the one type with the field, requires it
        if linked.null_count == 0 and not (
            pc.all(pc.match_substring_regex(linked, SUBJECT_REF_PATTERN)).as_py()
        ):
            return False
        passes = self.validator.passes
        for name in table.column_names:
            column = table.column(name)
            if name not in CHECKED_FIELDS or column.null_count == len(column):
                continue  # not checked, or not a field of this type (all null)
            if name in LIST_FIELDS:
                if not may_be_empty(event_type, name):
                    lengths = pc.list_value_length(column)
                    if pc.any(pc.equal(lengths, 0)).as_py():
                        return False
                column = pc.list_flatten(column)
            if not passes(name, pc.unique(column).to_pylist()):
                return False
        return True

    @staticmethod
    def _positioned(table: pa.Table, entries: Sequence[LogEntry], indexes: list[int]) -> pa.Table:
        partitions = pa.array([entries[i].partition for i in indexes], pa.int32())
        offsets = pa.array([entries[i].offset for i in indexes], pa.int64())
        return table.append_column("log_partition", partitions).append_column("log_offset", offsets)


class Batch:
    """Decoded records of one commit. The mapping onto the projection's columns is SQL
    (``queries/apply_batch.sql``)."""

    def __init__(self, row_type: pa.StructType, decoder: Decoder | None = None) -> None:
        self.row_type = row_type
        self.decoder = decoder
        self.pending: list[LogEntry] = []
        self.chunks: list[pa.Table] = []
        # (partition, offset, next_offset, reason, payload, key)
        self.quarantine: list[Quarantined] = []
        self.positions: dict[int, int] = {}
        # Per partition: the last record taken, as (offset, fingerprint) or its entry.
        self._last: dict[int, LogEntry | tuple[int, int]] = {}
        self.size = 0
        self.repeats = 0

    def take(self, entry: LogEntry) -> None:
        """Step 2 for one record: decoded with the others of its chunk."""
        self.positions[entry.partition] = entry.next_offset
        self._last[entry.partition] = entry  # fingerprinted once, at the commit
        self.size += 1
        self.pending.append(entry)
        if len(self.pending) >= CHUNK_ROWS:
            self._convert()

    def _convert(self) -> None:
        if not self.pending:
            return
        assert self.decoder is not None
        parts = self.decoder.decode(self.pending, self.quarantine)
        self.pending = []
        if len(parts) == 1:
            self.chunks.append(parts[0][0])
        elif parts:
            # Back into log order: the first of two records with one event id wins.
            table = pa.concat_tables([t for t, _ in parts])
            order = pc.sort_indices(pa.array([i for _, idx in parts for i in idx], pa.int64()))
            self.chunks.append(table.take(order))

    def table(self) -> pa.Table:
        self._convert()
        if not self.chunks:
            return pa.Table.from_struct_array(pa.array([], type=self.row_type))
        return self._unique(pa.concat_tables(self.chunks))

    def merge(
        self,
        chunk: pa.Table | None,
        size: int,
        repeats: int,
        quarantine: list[Quarantined],
        positions: dict[int, int],
        last: dict[int, tuple[int, int]],
    ) -> None:
        """Add a chunk decoded elsewhere; ``positions`` cover every record before it, and
        ``last`` fingerprints the record before each (see ``last_records``)."""
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
        """The table without later records of an event id it already holds: the same event
        twice in one batch (a re-run's records) is applied once, at its first position."""
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
