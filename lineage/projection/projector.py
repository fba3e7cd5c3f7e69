"""The projector: log -> DuckDB, exactly once.

Commit protocol (one batch):
  1. Read the stored positions (``log_positions``); the log is read from there.
  2. Decode each record. A record that fails its checksum, does not decode, or decodes to an
     invalid event is set aside in ``quarantine``, with its position and reason; it is never
     projected.
  3. Build the batch as Arrow columns (row-by-row inserts run ~1000x slower).
  4. Dead letters first: a log with a dead-letter destination (Kafka: ``<topic>.dlq``) gets
     the set-aside records and acknowledges them before the positions can move. A crash
     between this step and step 6 sends them again on restart: readers of the dead-letter
     topic key them by source position.
  5. In ONE DuckDB transaction: insert the events not already present (by ``event_id``),
     their identity links, the quarantined records, and the new positions.
     In the same transaction, apply forgetting (``queries/forget.sql``): lineage rows of
     subjects whose erasure completed are dropped, exactly as a full replay would drop them.
  6. Commit. A crash before the commit leaves the old positions and none of the rows; a crash
     after leaves both. Replaying a record twice is harmless anyway: ``event_id`` dedupes.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from lineage.codec import Codec
from lineage.codec.arrow import batch_row_type
from lineage.errors import LineageError, ProjectionMismatchError
from lineage.events.taxonomy import Taxonomy, default_taxonomy
from lineage.events.validate import RecordValidator
from lineage.log.base import DeadLetter, DeadLetterLog, Log, LogEntry
from lineage.projection.queries import statements
from lineage.projection.store import Store

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


@dataclass
class ProjectionResult:
    read: int = 0
    applied: int = 0
    duplicates: int = 0
    quarantined: int = 0
    positions: dict[int, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


# Decoded dicts are turned into Arrow this many at a time: a dict per event costs tens of
# times the memory of its Arrow row, so a commit's batch is kept as Arrow chunks.
CHUNK_ROWS = 8_192
# DuckDB writes an insert of at least one row group (122,880 rows) straight into the database
# file; smaller commits go through the WAL and are copied again by every checkpoint (measured:
# 2-3x slower projection at 50,000).
DEFAULT_BATCH_SIZE = 122_880


class _Batch:
    """Decoded records of one commit. Arrow converts the dicts in C++; the mapping onto the
    projection's columns is SQL (``queries/apply_batch.sql``)."""

    def __init__(self, row_type: pa.StructType) -> None:
        self.row_type = row_type
        self.rows: list[dict[str, Any]] = []
        self.chunks: list[pa.Table] = []
        # (partition, offset, next_offset, reason, payload, key)
        self.quarantine: list[tuple[int, int, int, str, bytes | None, bytes | None]] = []
        self.positions: dict[int, int] = {}
        self.size = 0
        self.seen: set[str] = set()
        self.repeats = 0

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
        return pa.concat_tables(self.chunks)

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


class Projector:
    def __init__(
        self,
        store: Store,
        log: Log,
        codec: Codec,
        *,
        batch_size: int = DEFAULT_BATCH_SIZE,
        max_latency: float | None = None,
        taxonomy: Taxonomy | None = None,
    ) -> None:
        self.store = store
        self.log = log
        self.codec = codec
        self.batch_size = batch_size
        self.max_latency = max_latency
        self.taxonomy = taxonomy
        self.row_type = batch_row_type(codec)

    def check_log(self) -> dict[int, int]:
        """The stored positions, after making sure they belong to this log."""
        known = self.store.meta("log_id")
        owned = getattr(self.log, "partitions", None)
        owned_text = ",".join(str(p) for p in owned) if owned is not None else "all"
        if known is None:
            with self.store.transaction():
                self.store.set_meta("log_id", self.log.log_id)
                self.store.set_meta("log_kind", self.log.kind)
                self.store.set_meta("partitions", owned_text)
        elif known != self.log.log_id:
            raise ProjectionMismatchError(
                f"projection {self.store.path} was built from another log ({known}); "
                "run `lineage rebuild`"
            )
        elif (self.store.meta("partitions") or "all") != owned_text:
            raise ProjectionMismatchError(
                f"projection {self.store.path} holds partitions "
                f"{self.store.meta('partitions') or 'all'}, not {owned_text}: give the same "
                "--shard/--partitions as when it was built, or rebuild it"
            )
        positions = self.store.positions()
        ends = self.log.end_offsets()
        for partition, offset in positions.items():
            if offset > ends.get(partition, 0):
                raise ProjectionMismatchError(
                    f"projection has read partition {partition} up to {offset} but the log "
                    f"ends at {ends.get(partition, 0)} (the log lost records): run "
                    "`lineage rebuild`"
                )
        return positions

    def run(
        self,
        *,
        on_batch: Callable[[ProjectionResult], None] | None = None,
        entries: Iterable[LogEntry] | None = None,
        limit: int | None = None,
    ) -> ProjectionResult:
        """Project everything committed to the log so far (at most ``limit`` records)."""
        # A batch keeps tens of thousands of fresh dicts alive; the cyclic GC would rescan
        # them over and over (measured: decoding runs 2x slower). They hold no cycles.
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            return self._run(on_batch, entries, limit)
        finally:
            if was_enabled:
                gc.enable()

    def _run(
        self,
        on_batch: Callable[[ProjectionResult], None] | None,
        entries: Iterable[LogEntry] | None,
        limit: int | None,
    ) -> ProjectionResult:
        positions = self.check_log()
        max_latency = self.max_latency
        clock = time.monotonic
        validator = RecordValidator(self.taxonomy or default_taxonomy())
        result = ProjectionResult(positions=dict(positions))
        decode = self.codec.decode_raw
        # One batch commits in a worker thread while the next one is decoded: DuckDB releases
        # the GIL while it works. Commits stay in order; at most one is in flight.
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="lineage-commit") as pool:
            pending: Future[None] | None = None

            def flush(batch: _Batch) -> Future[None]:
                table = batch.table()
                if pending is not None:
                    pending.result()
                return pool.submit(self._commit, batch, table, result, on_batch)

            batch = _Batch(self.row_type)
            started = clock()
            for entry in entries if entries is not None else self.log.read(positions):
                if batch.size == 0:
                    started = clock()
                result.read += 1
                batch.positions[entry.partition] = entry.next_offset
                batch.size += 1
                if entry.value is None:
                    batch.quarantine.append(
                        (
                            entry.partition,
                            entry.offset,
                            entry.next_offset,
                            entry.error or "?",
                            None,
                            entry.key,
                        )
                    )
                else:
                    try:
                        rec = decode(entry.value)
                        validator.check(rec)
                    except LineageError as exc:
                        batch.quarantine.append(
                            (
                                entry.partition,
                                entry.offset,
                                entry.next_offset,
                                str(exc),
                                entry.value,
                                entry.key,
                            )
                        )
                    else:
                        batch.add(entry, rec)
                if batch.size >= self.batch_size or (
                    max_latency is not None and clock() - started >= max_latency
                ):
                    pending = flush(batch)
                    batch = _Batch(self.row_type)
                if limit is not None and result.read >= limit:
                    break
            if batch.size:
                pending = flush(batch)
            if pending is not None:
                pending.result()
        return result

    def _count_events(self) -> int:
        row = self.store.con.execute("SELECT count(*) FROM events").fetchall()[0]
        return int(row[0]) if row else 0

    def _commit(
        self,
        batch: _Batch,
        table: pa.Table,
        result: ProjectionResult,
        on_batch: Callable[[ProjectionResult], None] | None,
    ) -> None:
        con = self.store.con
        if batch.quarantine and isinstance(self.log, DeadLetterLog):
            # Step 4: dead letters acknowledged before the positions move.
            self.log.send_dead_letters(
                [DeadLetter(q[0], q[1], q[3], q[4], q[5]) for q in batch.quarantine]
            )
        with self.store.transaction():
            # Step 5: rows, links, quarantine and positions in one transaction.
            before = self._count_events()
            con.register("batch", table)
            try:
                for stmt in statements("apply_batch"):
                    con.execute(stmt)
            finally:
                con.unregister("batch")
            applied = self._count_events() - before
            for stmt in statements("forget"):
                con.execute(stmt)
            if batch.quarantine:
                quarantine = batch.quarantine_table()
                con.register("quarantined", quarantine)
                con.execute("INSERT INTO quarantine SELECT * FROM quarantined")
                con.unregister("quarantined")
            for partition, offset in batch.positions.items():
                con.execute(
                    "INSERT OR REPLACE INTO log_positions VALUES (?, ?)", [partition, offset]
                )
        # Step 6 done: counters only after the commit.
        result.applied += applied
        result.duplicates += table.num_rows - applied + batch.repeats
        result.quarantined += len(batch.quarantine)
        for partition, offset in batch.positions.items():
            result.positions[partition] = offset
        for q in batch.quarantine:
            where = f"partition {q[0]} offset {q[1]}" if self.log.kind == "kafka" else f"{q[1]}"
            result.problems.append(f"position {where}: {q[3]}")
        if on_batch:
            on_batch(result)
