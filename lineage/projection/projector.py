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
     A batch that cannot change which subjects are forgotten (``forget_needed.sql``) has
     only its own rows checked (``forget_batch.sql``). A batch that lowers a cut-off (a
     completion dated earlier than one recorded before it) gets the rows dropped under the
     higher one back from the log (``_restore``).
     In the same transaction, mark the references the batch touches (``mark_dirty.sql``):
     the company-wide summaries of their components are folded again before use; and keep
     the batch's (flow, subject) and (flow, category) pairs (``flow_subjects_batch.sql``;
     after a recomputation of forgetting, the forgotten subjects' pairs and every flow's
     categories again: ``flow_subjects_forget.sql``, ``flow_categories_fill.sql``).
  6. Commit. A crash before the commit leaves the old positions and none of the rows; a crash
     after leaves both. Replaying a record twice is harmless anyway: ``event_id`` dedupes.

With ``workers`` (a Kafka catch-up), steps 2-3 run in worker processes that own the
partitions (``lineage.projection.workers``); steps 1 and 4-6 stay here, on whole chunks whose
positions cover every record before them, so the protocol is the same.
"""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import pyarrow as pa

from lineage.codec import Codec
from lineage.codec.arrow import batch_row_type
from lineage.errors import ProjectionMismatchError
from lineage.events.taxonomy import Taxonomy, default_taxonomy
from lineage.log.base import DeadLetter, DeadLetterLog, Log, LogEntry, RewrittenLog, pending
from lineage.projection.batch import CHUNK_ROWS, DEFAULT_BATCH_SIZE, Batch, Decoder
from lineage.projection.position import check_positions
from lineage.projection.queries import sql, statements
from lineage.projection.store import Store

logger = logging.getLogger("lineage.projection")

# Below this many records to read, worker processes cost more to start than they save.
PARALLEL_MIN_RECORDS = 100_000
# Up to this many references whose forgetting cut-off went down, records are searched for
# their bytes before decoding (Projector._restore).
PREFILTER_MAX_REFS = 64


@dataclass
class ProjectionResult:
    read: int = 0
    applied: int = 0
    duplicates: int = 0
    quarantined: int = 0
    positions: dict[int, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


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
        workers: int = 0,
        verify: bool = True,
    ) -> None:
        self.store = store
        # Check that the stored positions are still this log's records before resuming
        # (a follower does it in its first round only).
        self.verify = verify
        self.log = log
        self.codec = codec
        self.batch_size = batch_size
        self.max_latency = max_latency
        self.taxonomy = taxonomy
        self.workers = workers
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
        elif known != self.log.log_id and self._rewritten_from(known):
            self._start_over()
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
        if self.verify:
            check_positions(self.log, self.store.marks(), self.store.path)
        positions = self.store.positions()
        return positions

    def _rewritten_from(self, known: str) -> bool:
        log = self.log
        return isinstance(log, RewrittenLog) and log.rewritten_from == known

    def _start_over(self) -> None:
        """The log was compacted under this projection (``lineage log compact``, perhaps
        killed before it rebuilt): project the new log from its start. One transaction, so
        a crash leaves either the old state (and this runs again) or the new one."""
        logger.warning(
            "projection %s: the log was compacted; projecting it again from its start",
            self.store.path,
        )
        with self.store.transaction():
            for stmt in statements("start_over"):
                self.store.con.execute(stmt)
            self.store.set_meta("log_id", self.log.log_id)

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
        taxonomy = self.taxonomy or default_taxonomy()
        spec = getattr(self.log, "spec", None)
        partitions = getattr(self.log, "partitions", None)
        # Worker processes pay off for a large catch-up of a partitioned log (starting them
        # costs about a second); a small catch-up, a bounded or latency-bound round (a
        # follower) stays in this process. They start before the checks below, which their
        # start overlaps; they read nothing until they are sent the checked positions.
        parallel = (
            self.workers > 0
            and spec is not None
            and partitions is not None
            and entries is None
            and limit is None
            and self.max_latency is None
            and pending(self.log, self.store.positions()) >= PARALLEL_MIN_RECORDS
        )
        workers = None
        if parallel:
            from lineage.projection.workers import Workers

            assert spec is not None and partitions is not None
            workers = Workers(spec(), partitions, self.workers, self.codec, taxonomy)
        try:
            positions = self.check_log()
            result = ProjectionResult(positions=dict(positions))
            if workers is not None:
                batches = workers.batches(positions, self.row_type, self.batch_size)
            else:
                batches = self._batches(positions, entries, limit, taxonomy)
            self._commit_all(batches, result, on_batch)
            return result
        finally:
            if workers is not None:
                workers.close()

    def _batches(
        self,
        positions: dict[int, int],
        entries: Iterable[LogEntry] | None,
        limit: int | None,
        taxonomy: Taxonomy,
    ) -> Iterator[Batch]:
        """Steps 1-3 in this process."""
        max_latency = self.max_latency
        clock = time.monotonic
        decoder = Decoder(self.codec, taxonomy, self.row_type)
        batch = Batch(self.row_type, decoder)
        started = clock()
        source = entries if entries is not None else self.log.read(positions)
        for read, entry in enumerate(source, start=1):
            if batch.size == 0:
                started = clock()
            batch.take(entry)
            if batch.size >= self.batch_size or (
                max_latency is not None and clock() - started >= max_latency
            ):
                yield batch
                batch = Batch(self.row_type, decoder)
            if limit is not None and read >= limit:
                break
        if batch.size:
            yield batch

    def _commit_all(
        self,
        batches: Iterator[Batch],
        result: ProjectionResult,
        on_batch: Callable[[ProjectionResult], None] | None,
    ) -> None:
        # One batch commits in a worker thread while the next one is decoded: DuckDB releases
        # the GIL while it works. Commits stay in order; at most one is in flight.
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="lineage-commit") as pool:
            pending: Future[None] | None = None
            for batch in batches:
                result.read += batch.size
                table = batch.table()
                if pending is not None:
                    pending.result()
                pending = pool.submit(self._commit, batch, table, result, on_batch)
            if pending is not None:
                pending.result()

    def _count_events(self) -> int:
        row = self.store.con.execute("SELECT count(*) FROM events").fetchall()[0]
        return int(row[0]) if row else 0

    def _commit(
        self,
        batch: Batch,
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
                applied = self._count_events() - before
                con.execute(sql("mark_dirty"))
                row = con.execute(sql("forget_needed")).fetchone()
                forgets = bool(row and row[0])
                if forgets:
                    con.execute(sql("forget_before"))
                for stmt in statements("forget" if forgets else "forget_batch"):
                    con.execute(stmt)
                lowered = self._lowered() if forgets else 0
                if self.store.keeps_flows:
                    for stmt in [
                        *(statements("flow_subjects_forget") if forgets else []),
                        *(statements("flow_categories_fill") if forgets else []),
                        *statements("flow_subjects_batch"),
                    ]:
                        con.execute(stmt)
            finally:
                con.unregister("batch")
            if lowered:
                self._restore(lowered, {**self.store.positions(), **batch.positions})
            if batch.quarantine:
                quarantine = batch.quarantine_table()
                con.register("quarantined", quarantine)
                con.execute("INSERT INTO quarantine SELECT * FROM quarantined")
                con.unregister("quarantined")
            last = batch.last_records()
            for partition, offset in batch.positions.items():
                con.execute(
                    "INSERT OR REPLACE INTO log_positions VALUES (?, ?, ?, ?)",
                    [partition, offset, *last[partition]],
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

    def _lowered(self) -> int:
        """How many references forgetting just gave a lower cut-off (kept in the temporary
        table ``forget_lowered`` when there are any)."""
        con = self.store.con
        for stmt in statements("forget_lowered"):
            con.execute(stmt)
        row = con.execute("SELECT count(*) FROM forget_lowered").fetchone()
        lowered = int(row[0]) if row else 0
        if not lowered:
            con.execute("DROP TABLE forget_lowered")
        return lowered

    def _restore(self, lowered: int, bound: dict[int, int]) -> None:
        """Give back the rows a lowered cut-off no longer forgets (``forget_lowered``): a
        completion of a request dated earlier than one recorded before it. They were
        dropped from the projection, so they are read again from the log, every record
        before ``bound`` (what this transaction has projected), streamed in chunks, decoded
        and filtered by reference and time; the few found are applied as one batch. A log
        compacted under the higher cut-off no longer holds them; neither can a rebuild."""
        con = self.store.con
        logger.info(
            "projection %s: a completion dated earlier than one recorded before it lowered "
            "the cut-off of %d subject references; reading their events back from the log",
            self.store.path,
            lowered,
        )
        empty = pa.Table.from_struct_array(pa.array([], type=self.row_type))
        con.register("restore_chunk", empty)
        con.execute("CREATE OR REPLACE TEMP TABLE forget_restored AS FROM restore_chunk")
        con.unregister("restore_chunk")
        decoder = Decoder(self.codec, self.taxonomy or default_taxonomy(), self.row_type)
        refs = [r for (r,) in con.execute("SELECT subject_ref FROM forget_lowered").fetchall()]
        # Avro writes a string as its UTF-8 bytes, so a record of a reference holds the
        # reference's bytes: records without any are skipped undecoded (decoding is most of
        # the pass). Many references: every record is decoded, one test per record.
        needles = [r.encode() for r in refs] if len(refs) <= PREFILTER_MAX_REFS else None
        for entries in self._records_before(bound, needles):
            # Records that do not decode were set aside when first read.
            for table, _ in decoder.decode(entries, []):
                con.register("restore_chunk", table)
                try:
                    con.execute(sql("forget_restore"))
                finally:
                    con.unregister("restore_chunk")
        for stmt in statements("forget_restored"):
            con.execute(stmt)
        try:
            before = self._count_events()
            for stmt in statements("apply_batch"):
                con.execute(stmt)
            con.execute(sql("mark_dirty"))
            if self.store.keeps_flows:
                for stmt in statements("flow_subjects_batch"):
                    con.execute(stmt)
            logger.info(
                "projection %s: %d events given back",
                self.store.path,
                self._count_events() - before,
            )
        finally:
            con.execute("DROP TABLE batch")

    def _records_before(
        self, bound: dict[int, int], needles: list[bytes] | None
    ) -> Iterator[list[LogEntry]]:
        """The log's records before the positions ``bound``, from its start, in chunks;
        with ``needles``, only those whose bytes hold one of them."""
        spec = getattr(self.log, "spec", None)
        partitions = getattr(self.log, "partitions", None)
        # A Kafka log's reader may be part-way through the batches being projected: this
        # reading gets clients of its own.
        log = spec().open(partitions) if spec is not None and partitions is not None else self.log
        todo = set(bound)
        chunk: list[LogEntry] = []
        try:
            for entry in log.read():
                end = bound.get(entry.partition)
                if end is None or entry.offset >= end:
                    todo.discard(entry.partition)
                    if not todo:
                        break
                    continue
                value = entry.value
                if value is None or (needles is not None and not any(n in value for n in needles)):
                    continue
                chunk.append(entry)
                if len(chunk) >= CHUNK_ROWS:
                    yield chunk
                    chunk = []
            if chunk:
                yield chunk
        finally:
            if log is not self.log:
                log.close()
