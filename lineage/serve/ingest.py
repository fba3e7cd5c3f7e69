"""``POST /v1/events`` off the service's GIL: a batch is parsed, checked against the
taxonomy, pseudonymised, scrubbed and encoded (``lineage.ingest.record.prepare``) in a
worker process; the service's process only appends the encoded records (the writer's group
commit) while its threads keep answering questions.

The workers are started with ``spawn`` (a fresh interpreter: nothing of the service's
threads, locks or open files is inherited) and initialised once with the settings, the
catalog's location and the pseudonym key, which travels through the pipe that starts them
and is never written anywhere. A worker reloads the catalog when its file changes, as the
service's own requests do.

Small batches are prepared in the request's thread: below ``threshold`` bytes the round trip
to a worker costs more than the work (bench/serve.py measures both).

A worker that dies (killed, out of memory) breaks the pool: the batch it held is answered
503 with Retry-After and was not appended, and the next batch gets a new pool. A worker
leaves its result (or its error) in a file of the pool's own directory and sends only the
file's name back: ``ProcessPoolExecutor`` reads a result from one pipe that every worker
writes, and a worker killed half-way through writing a large one leaves a message its
reader waits on forever (the pool never learns it is broken). A name is far below
``PIPE_BUF``, so it is written whole or not at all.

``lineage emit --file`` of a large file uses the same pool (``record_file``): the file is
read in chunks of whole lines, each prepared in a worker (``prepare_lines``), and the main
process appends them in the file's order in one all-or-nothing append, at most a few chunks
ahead of it.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import pickle
import shutil
import signal
import tempfile
import threading
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, TypeVar

from lineage.errors import InputError, LineageError

if TYPE_CHECKING:
    from lineage.config import Settings
    from lineage.edge.jsonl import EventParser
    from lineage.ingest.record import Prepared, Recorded
    from lineage.services.app import App

log = logging.getLogger("lineage.serve")
T = TypeVar("T")

# Below this many body bytes (about 20 events) a batch is prepared in the request's thread:
# a worker's round trip adds about 0.7 ms to a batch, which costs the request's thread
# about 1 ms of the service's GIL at this size (bench/README.md).
DEFAULT_THRESHOLD = 8 * 1024
# ``lineage emit --file``: files from this size on go to workers by default. Starting one
# costs about 0.2 s of a core and the workers spend 20-30% more CPU per line than one
# process; on two otherwise idle cores a line takes about 12 us less (bench/README.md), so
# a file gains clearly from some 100,000 lines of 300 bytes.
FILE_THRESHOLD = 32 * 1024 * 1024
CHUNK_BYTES = 1024 * 1024


class WorkerLost(LineageError):
    """The worker preparing a batch stopped; nothing of the batch was appended."""

    exit_code = 3

    def __init__(self, message: str | None = None) -> None:
        super().__init__(
            message
            or "the worker preparing this batch stopped; nothing was recorded: try again shortly"
        )


def prepare_body(
    app: App, body: bytes, lines: bool, source: str, parser: EventParser | None = None
) -> Prepared:
    """Decode, parse, check, scrub and encode the whole body, event by event as ``lineage
    emit`` does (the first bad one raises, before anything is appended): ``POST /v1/events``
    up to the append, in whichever process runs it. ``parser`` (``parser_for(app, source)``)
    may be one that prepared earlier bodies, for its caches."""
    from lineage.ingest.record import from_json, from_lines, parser_for, prepare

    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"not UTF-8 at byte {exc.start}", "body") from None
    if parser is None:
        parser = parser_for(app, source)
    else:
        parser.next_input()
    parsed = (
        from_lines(parser, text.split("\n"), "body") if lines else from_json(parser, text, "body")
    )
    prepared = prepare(app, parsed)
    if not prepared.records:
        raise InputError("no events in the body", "body")
    return prepared


# -- in the worker process ------------------------------------------------------------------
_worker: dict[str, Any] = {}
_handoffs = itertools.count()


def _init(settings: Settings, catalog_file: str | Path | None, key: bytes, handoff: str) -> None:
    from lineage.edge.identity import Pseudonymizer
    from lineage.services.app import App

    # Ctrl-C reaches the whole process group: the service shuts its pool down itself.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # A service killed outright (SIGKILL, OOM) cannot shut its pool down: its workers
    # would wait on the task queue forever, so each leaves when its parent is gone.
    threading.Thread(target=_leave_with_parent, name="parent-watch", daemon=True).start()
    app = App(settings, catalog_file)
    app.use_pseudonymizer(Pseudonymizer(key))
    _worker.update(app=app, catalog=_catalog_stamp(app), handoff=handoff, parsers={})
    app.catalog()  # loaded once here, not at the first batch
    # The edge and the codec imported here too: the first batch otherwise pays for them.
    from lineage.codec import default_codec
    from lineage.ingest.record import parser_for

    default_codec()
    parser_for(app)


def _leave_with_parent() -> None:
    import multiprocessing
    from multiprocessing.connection import wait

    parent = multiprocessing.parent_process()
    if parent is not None:
        wait([parent.sentinel])
        os._exit(1)


def _catalog_stamp(app: App) -> tuple[str, int, int] | None:
    from lineage.catalog import catalog_stamp

    return catalog_stamp(app.settings.home, app.catalog_file)


def _current_app() -> App:
    app: App = _worker["app"]
    stamp = _catalog_stamp(app)
    if stamp != _worker["catalog"]:
        app.forget_catalog()
        _worker["catalog"] = stamp
        _worker["parsers"] = {}
    return app


def _hand_off(work: Callable[[], Prepared]) -> str:
    """Run ``work`` and leave its outcome in a file of the pool's directory; return the
    file's name, all that crosses the result pipe (see the module docstring)."""
    outcome: tuple[bool, Any]
    try:
        outcome = (True, work())
    except Exception as exc:  # an error travels the same way as a result
        outcome = (False, exc)
    path = os.path.join(_worker["handoff"], f"{os.getpid()}-{next(_handoffs)}")
    try:
        data = pickle.dumps(outcome, pickle.HIGHEST_PROTOCOL)
    except Exception as exc:  # an error that does not pickle still ends the batch
        data = pickle.dumps((False, RuntimeError(f"{type(exc).__name__}: {exc}")))
    with open(path, "wb") as fh:
        fh.write(data)
    return path


def _taken(path: str) -> Prepared:
    """The outcome a worker left at ``path``: its result, or its error raised here."""
    try:
        with open(path, "rb") as fh:
            ok, value = pickle.load(fh)
    finally:
        os.unlink(path)
    if not ok:
        raise value
    result: Prepared = value
    return result


def _discard(future: Future[str]) -> None:
    """Remove the result a worker left for a batch given up."""
    if not future.cancelled() and future.exception() is None:
        with contextlib.suppress(OSError):
            os.unlink(future.result())


def _parser(app: App, source: str | None) -> EventParser:
    """This worker's parser for ``source``, kept for every batch and chunk: a subject recurs
    across them, and its references are computed once (each batch or chunk starts its
    identity links afresh). A changed catalog starts new ones (``_current_app``)."""
    from lineage.ingest.record import parser_for

    parsers = _worker["parsers"]
    parser: EventParser | None = parsers.get(source)
    if parser is None:
        parser = parsers[source] = parser_for(app, source)
    return parser


def _prepare(body: bytes, lines: bool, source: str) -> str:
    def work() -> Prepared:
        app = _current_app()
        return prepare_body(app, body, lines, source, _parser(app, source))

    return _hand_off(work)


def _prepare_lines(data: bytes, name: str, first: int, source: str | None) -> str:
    from lineage.ingest.record import prepare_lines

    def work() -> Prepared:
        app = _current_app()
        return prepare_lines(app, data, name, first, source, _parser(app, source))

    return _hand_off(work)


def _ready() -> int:
    return os.getpid()


# -- in the service -------------------------------------------------------------------------
class IngestPool:
    """The service's worker processes for ingest batches (see the module docstring)."""

    def __init__(
        self,
        settings: Settings,
        catalog_file: str | Path | None,
        workers: int,
        threshold: int = DEFAULT_THRESHOLD,
    ) -> None:
        import multiprocessing

        self.workers = workers
        self.threshold = threshold
        # Where workers leave their results: memory-backed where the system has it.
        shm = "/dev/shm"
        where = shm if os.path.isdir(shm) and os.access(shm, os.W_OK) else None
        self.handoff = tempfile.mkdtemp(prefix="lineage-ingest-", dir=where)
        self._initargs = (settings, catalog_file, settings.pseudonym_key(), self.handoff)
        self._context = multiprocessing.get_context("spawn")
        self._lock = threading.Lock()
        self._closed = False
        self._pool = self._start()

    def _start(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            self.workers,
            mp_context=self._context,
            initializer=_init,
            initargs=self._initargs,
        )

    def warm(self) -> list[int]:
        """Start every worker now (they start on demand otherwise) and return their pids;
        a worker that cannot initialise fails here, before the service answers."""
        pool = self._pool
        futures = [pool.submit(_ready) for _ in range(self.workers)]
        return [f.result() for f in futures]

    def _replace(self, broken: ProcessPoolExecutor) -> ProcessPoolExecutor:
        with self._lock:
            if self._pool is broken and not self._closed:
                log.warning("an ingest worker stopped; starting new workers")
                broken.shutdown(wait=False, cancel_futures=True)
                self._pool = self._start()
            return self._pool

    async def prepare(
        self, app: App, body: bytes, lines: bool, source: str, then: Callable[[Prepared], T]
    ) -> T:
        """``then`` of the batch prepared in a worker (or in a thread, when it is small),
        called in the thread that takes the worker's result: one thread hop for both."""
        from starlette.concurrency import run_in_threadpool

        if len(body) < self.threshold:
            return await run_in_threadpool(lambda: then(prepare_body(app, body, lines, source)))
        pool = self._pool
        try:
            future = pool.submit(_prepare, body, lines, source)
        except BrokenProcessPool:  # a worker died while idle: this batch never reached it
            pool = self._replace(pool)
            future = pool.submit(_prepare, body, lines, source)
        try:
            path = await asyncio.wrap_future(future)
        except asyncio.CancelledError:  # the client went away: its result is not wanted
            future.add_done_callback(_discard)
            raise
        except BrokenProcessPool:
            self._replace(pool)
            raise WorkerLost() from None
        # Unpickled off the event loop, as the pool's own thread did before.
        return await run_in_threadpool(lambda: then(_taken(path)))

    def prepared_lines(
        self, chunks: Iterator[tuple[bytes, int]], name: str, source: str | None
    ) -> Iterator[tuple[Prepared, int]]:
        """(chunk prepared, its bytes) of each (whole lines, first line number) of file
        ``name``, in order, with at most two chunks per worker under way; a worker that
        stops raises ``WorkerLost``."""
        pending: deque[tuple[Future[str], int]] = deque()
        ahead = 2 * self.workers
        try:
            for data, first in chunks:
                future = self._pool.submit(_prepare_lines, data, name, first, source)
                pending.append((future, len(data)))
                if len(pending) > ahead:
                    future, size = pending.popleft()
                    yield _taken(future.result()), size
            while pending:
                future, size = pending.popleft()
                yield _taken(future.result()), size
        except BrokenProcessPool:
            raise WorkerLost(
                f"a worker preparing {name} stopped (killed, or out of memory); "
                "nothing of the file was appended"
            ) from None
        finally:
            for future, _ in pending:
                if not future.cancel():
                    future.add_done_callback(_discard)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._pool.shutdown(wait=True, cancel_futures=True)
            # Results never taken (a batch given up after an error) go with the directory.
            shutil.rmtree(self.handoff, ignore_errors=True)


def file_chunks(file: BinaryIO, size: int = CHUNK_BYTES) -> Iterator[tuple[bytes, int]]:
    """(whole lines of about ``size`` bytes, the number of their first line) of ``file``,
    split where reading it line by line splits (after b"\n")."""
    first = 1
    rest = b""
    while block := file.read(size):
        data = rest + block if rest else block
        cut = data.rfind(b"\n") + 1
        if cut == 0:  # one line longer than a chunk: read on
            rest = data
            continue
        chunk, rest = data[:cut], data[cut:]
        yield chunk, first
        first += chunk.count(b"\n")
    if rest:
        yield rest, first


def record_file(
    app: App,
    file: BinaryIO,
    name: str,
    source: str | None,
    workers: int,
    chunk_bytes: int = CHUNK_BYTES,
    moved: Any = None,
    pool: IngestPool | None = None,
) -> Recorded:
    """``lineage emit --file``, its chunks prepared in ``workers`` processes (or in ``pool``,
    left open): the same events in the same order, the same counts and the same first error
    as ``record`` of the file in one pass. ``moved(bytes)`` is told how far the append has
    come."""
    from lineage.ingest.record import record_chunks

    own = pool is None
    if pool is None:
        pool = IngestPool(app.settings, app.catalog_file, workers, threshold=0)

    def prepared() -> Iterator[Prepared]:
        done = 0
        for chunk, size in pool.prepared_lines(file_chunks(file, chunk_bytes), name, source):
            yield chunk
            done += size
            if moved is not None:
                moved(done)

    try:
        return record_chunks(app, prepared(), name)
    finally:
        if own:
            pool.close()
