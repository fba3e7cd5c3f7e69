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
503 with Retry-After and was not appended, and the next batch gets a new pool.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lineage.errors import InputError, LineageError

if TYPE_CHECKING:
    from lineage.config import Settings
    from lineage.ingest.record import Prepared
    from lineage.services.app import App

log = logging.getLogger("lineage.serve")

# Below this many body bytes (about 20 events) a batch is prepared in the request's thread:
# a worker's round trip adds about 0.7 ms to a batch, which costs the request's thread
# about 1 ms of the service's GIL at this size (bench/README.md).
DEFAULT_THRESHOLD = 8 * 1024


class WorkerLost(LineageError):
    """The worker preparing a batch stopped; nothing of the batch was appended."""

    exit_code = 3

    def __init__(self) -> None:
        super().__init__(
            "the worker preparing this batch stopped; nothing was recorded: try again shortly"
        )


def prepare_body(app: App, text: str, lines: bool, source: str) -> Prepared:
    """Parse, check, scrub and encode the whole body, event by event as ``lineage emit``
    does (the first bad one raises, before anything is appended): ``POST /v1/events`` up
    to the append, in whichever process runs it."""
    from lineage.ingest.record import from_json, from_lines, parser_for, prepare

    parser = parser_for(app, source)
    parsed = (
        from_lines(parser, text.split("\n"), "body") if lines else from_json(parser, text, "body")
    )
    prepared = prepare(app, parsed)
    if not prepared.records:
        raise InputError("no events in the body", "body")
    return prepared


# -- in the worker process ------------------------------------------------------------------
_worker: dict[str, Any] = {}


def _init(settings: Settings, catalog_file: str | Path | None, key: bytes) -> None:
    from lineage.edge.identity import Pseudonymizer
    from lineage.services.app import App

    # Ctrl-C reaches the whole process group: the service shuts its pool down itself.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # A service killed outright (SIGKILL, OOM) cannot shut its pool down: its workers
    # would wait on the task queue forever, so each leaves when its parent is gone.
    threading.Thread(target=_leave_with_parent, name="parent-watch", daemon=True).start()
    app = App(settings, catalog_file)
    app.use_pseudonymizer(Pseudonymizer(key))
    _worker.update(app=app, catalog=_catalog_stamp(app))
    app.catalog()  # loaded once here, not at the first batch


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


def _prepare(text: str, lines: bool, source: str) -> Prepared:
    app: App = _worker["app"]
    stamp = _catalog_stamp(app)
    if stamp != _worker["catalog"]:
        app.forget_catalog()
        _worker["catalog"] = stamp
    return prepare_body(app, text, lines, source)


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
        self._initargs = (settings, catalog_file, settings.pseudonym_key())
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

    async def prepare(self, app: App, text: str, lines: bool, source: str) -> Prepared:
        """The batch prepared in a worker (or in a thread, when it is small)."""
        if len(text) < self.threshold:
            from starlette.concurrency import run_in_threadpool

            return await run_in_threadpool(prepare_body, app, text, lines, source)
        pool = self._pool
        try:
            future = pool.submit(_prepare, text, lines, source)
        except BrokenProcessPool:  # a worker died while idle: this batch never reached it
            pool = self._replace(pool)
            future = pool.submit(_prepare, text, lines, source)
        try:
            return await asyncio.wrap_future(future)
        except BrokenProcessPool:
            self._replace(pool)
            raise WorkerLost() from None

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._pool.shutdown(wait=True, cancel_futures=True)
