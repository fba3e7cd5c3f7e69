"""Reading and decoding in worker processes, committing in the projector's process.

On a partitioned log (Kafka) one Python thread cannot both parse the client's record batches
and decode, check and convert the events (~30 us per event together). Each worker process
owns a share of the partitions and does all of that; the projector's process only gathers
their Arrow chunks and commits them (DuckDB works outside the GIL).

Protocol, per worker (one pipe each way):
  1. The projector starts the workers first (their imports overlap its own checks), then
     sends each its start positions.
  2. A worker reads its partitions from there and sends, per chunk of records: the count,
     the repeats it dropped, the set-aside records, the next position of every partition it
     advanced, then the chunk as Arrow IPC bytes. A chunk's positions cover every record
     before it, and one worker's chunks arrive in order: a commit made of whole chunks can
     store their positions.
  3. At the end of its partitions it sends ``done``; on an error it sends the error and ends.
  The projector owns DuckDB and the positions: a worker that dies or fails makes the run fail
  before the batch holding its unsent records commits, so no position passes what was
  committed.
"""

from __future__ import annotations

import gc
import multiprocessing
import pickle
from collections.abc import Iterator, Sequence
from multiprocessing.connection import Connection, wait
from typing import Any, Protocol

import pyarrow as pa

from lineage.codec import Codec
from lineage.codec.arrow import batch_row_type
from lineage.errors import ProjectionError
from lineage.events.taxonomy import Taxonomy
from lineage.log.base import Log
from lineage.projection.batch import CHUNK_ROWS, Batch, Decoder

# Records per message from a worker: big enough that the pipe and the IPC framing cost
# nothing per record, small enough to keep every worker's share of a commit flowing.
WORKER_CHUNK = 4 * CHUNK_ROWS


class LogSpec(Protocol):
    """A log that another process can open on some of its partitions (``KafkaLog.spec()``)."""

    def open(self, partitions: Sequence[int]) -> Log: ...


class Workers:
    """Worker processes, each owning every n-th partition of ``partitions``."""

    def __init__(
        self,
        spec: LogSpec,
        partitions: Sequence[int],
        count: int,
        codec: Codec,
        taxonomy: Taxonomy,
    ) -> None:
        # spawn: the projector's process may run threads (Kafka clients, commits), which a
        # fork would copy in whatever state they were.
        ctx = multiprocessing.get_context("spawn")
        count = max(1, min(count, len(partitions)))
        self.shares = [list(partitions[i::count]) for i in range(count)]
        self.procs: dict[Connection, tuple[Any, list[int]]] = {}
        try:
            for share in self.shares:
                mine, theirs = ctx.Pipe()
                proc = ctx.Process(
                    target=_work,
                    args=(theirs, spec, share, codec, taxonomy, WORKER_CHUNK),
                    name=f"lineage-project-{'-'.join(map(str, share))}",
                    daemon=True,
                )
                proc.start()
                theirs.close()
                self.procs[mine] = (proc, share)
        except BaseException:
            self.close()
            raise

    def batches(
        self, positions: dict[int, int], row_type: pa.StructType, batch_size: int
    ) -> Iterator[Batch]:
        """Step 1-3 above; yields batches of whole chunks, ``batch_size`` records or more."""
        for conn, (_proc, share) in self.procs.items():
            conn.send({p: positions[p] for p in share if p in positions})
        live = dict(self.procs)
        batch = Batch(row_type)
        while live:
            for ready in wait(list(live)):
                assert isinstance(ready, Connection)
                conn = ready
                proc, share = live[conn]
                try:
                    message = conn.recv()
                    if message[0] == "chunk" and message[5]:
                        data = conn.recv_bytes()
                except (EOFError, OSError):
                    proc.join(5)
                    raise ProjectionError(
                        f"the projection worker for partitions {share} stopped "
                        f"(exit code {proc.exitcode}); nothing after the last commit is kept"
                    ) from None
                if message[0] == "chunk":
                    _, size, repeats, quarantine, advanced, last, rows = message
                    chunk = pa.ipc.open_stream(pa.py_buffer(data)).read_all() if rows else None
                    batch.merge(chunk, size, repeats, quarantine, advanced, last)
                elif message[0] == "done":
                    del live[conn]
                else:
                    raise message[1]
            if batch.size >= batch_size:
                yield batch
                batch = Batch(row_type)
        if batch.size:
            yield batch

    def close(self) -> None:
        for conn, (proc, _share) in self.procs.items():
            conn.close()
            if proc.is_alive():
                proc.terminate()
        for proc, _share in self.procs.values():
            proc.join(10)
            if proc.is_alive():
                proc.kill()
                proc.join()
        self.procs = {}


def _work(
    conn: Connection,
    spec: LogSpec,
    partitions: list[int],
    codec: Codec,
    taxonomy: Taxonomy,
    chunk: int,
) -> None:
    gc.disable()  # as in the projector: fresh dicts, no cycles
    try:
        positions = conn.recv()
        log = spec.open(partitions)
        try:
            row_type = batch_row_type(codec)
            decoder = Decoder(codec, taxonomy, row_type)
            batch = Batch(row_type, decoder)
            for entry in log.read(positions):
                batch.take(entry)
                if batch.size >= chunk:
                    _send(conn, batch)
                    batch = Batch(row_type, decoder)
            if batch.size:
                _send(conn, batch)
            conn.send(("done",))
        finally:
            log.close()
    except (EOFError, BrokenPipeError, KeyboardInterrupt):
        pass  # the projector is gone or stopping: nothing to tell
    except BaseException as exc:
        try:
            pickle.dumps(exc)
        except Exception:
            exc = ProjectionError(f"projection worker for partitions {partitions}: {exc}")
        conn.send(("error", exc))
    finally:
        conn.close()


def _send(conn: Connection, batch: Batch) -> None:
    table = batch.table()
    conn.send(
        (
            "chunk",
            batch.size,
            batch.repeats,
            batch.quarantine,
            batch.positions,
            batch.last_records(),
            table.num_rows,
        )
    )
    if table.num_rows:
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
        conn.send_bytes(sink.getvalue())
