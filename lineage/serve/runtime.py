"""What ``lineage serve`` holds while it runs: the projection, its follower and the writer.

One process owns the projection (DuckDB lets one process open the file). Inside it:

- the **follower** thread projects the log into the projection on its own connection, a
  batch per transaction (rows and positions together, see the projector), woken at once
  after an ingest and polling otherwise;
- every **request** reads through its own cursor (``con.cursor()``) inside one transaction:
  DuckDB's snapshot isolation gives each answer the state of one committed batch, never a
  half-applied one, and readers never block the follower; a who-has answer reuses the
  transaction the previous answer on its cursor left open while the follower committed
  nothing since (``Runtime.reading``);
- **writes to the log** go through one ``Writer``: concurrent appends are grouped into one log
  append (one fsync), and a caller that cannot get in within a short wait gets ``Busy``
  (HTTP 503) instead of queueing without bound.

Rights operations (erase, confirm, extend, ...) read what they just wrote: for them,
``catch_up`` waits until the follower has projected everything the log held at the call.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import sys
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from lineage.edge.identity import Pseudonymizer
from lineage.errors import LineageError, LogBusyError, LogUnavailableError
from lineage.log.base import AppendResult
from lineage.projection.store import Store
from lineage.serve.http import note_work, requests_in_flight
from lineage.services.app import App

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime

    from lineage.catalog.catalog import Catalog
    from lineage.config import Settings
    from lineage.events.model import Event
    from lineage.graph.identity import IdentityGraph
    from lineage.projection.projector import ProjectionResult
    from lineage.serve.ingest import IngestPool

log = logging.getLogger("lineage.serve")


def settle() -> None:
    """Once the service has loaded what it keeps for its lifetime (the warm identity graph,
    the catalog, the modules), leave it out of the garbage collector's full passes: each
    walked every object the process holds, the graph's above all, while no request could
    run (about 100 ms at 200,000 events under load, longer at larger sizes), and every
    request arriving meanwhile waited. What is garbage by then is collected first."""
    gc.collect()
    gc.freeze()
    # Nor does the collector start full passes by itself from now on: what reaches the
    # oldest generation afterwards (grown graph, caches, objects of requests in flight when
    # they were promoted) still took 15 ms a pass, six times a minute at 1M events under
    # load, every request waiting meanwhile. The follower runs them (``Collector``).
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, NEVER)
    # A thread that wants the GIL while another runs Python code waits the switch interval
    # before asking for it: 5 ms by default, taken again after each query an answer makes
    # (DuckDB lets the GIL go while it works). Measured under ingest: answer threads woke
    # late by 5.4 ms at the median of their late wake-ups (bench/README.md, serve.py).
    sys.setswitchinterval(SWITCH_INTERVAL)


# A generation-2 threshold no count of younger collections reaches.
NEVER = 2**31 - 1
# Seconds (CPython's default: 0.005).
SWITCH_INTERVAL = 0.001


class Collector:
    """Full garbage collections at the follower's pace, once ``settle`` stopped the
    automatic ones: at a quiet moment (no request in hand, nothing appended lately) at most
    every ``quiet_every`` seconds, and under load that never lets up every ``every``
    seconds anyway, so that cyclic garbage is bounded (bench/README.md, serve.py)."""

    def __init__(self, quiet_every: float = 10.0, every: float = 60.0) -> None:
        self.quiet_every = quiet_every
        self.every = every
        self.last = time.monotonic()
        self.runs = 0

    def maybe(self, quiet: Callable[[], bool]) -> bool:
        """Collect if due (``quiet`` is asked only when it matters); whether it did."""
        since = time.monotonic() - self.last
        if since < self.quiet_every or (since < self.every and not quiet()):
            return False
        gc.collect()
        self.last = time.monotonic()
        self.runs += 1
        return True


class Busy(LineageError):
    """The log writer or the projection did not answer within the service's short wait."""

    exit_code = 3

    def __init__(self, what: str, waited: float) -> None:
        super().__init__(f"{what} is busy (waited {waited:g}s): try again shortly")
        self.waited = waited


# One log record: the subject reference (the partition key) and the encoded event.
Encoded = tuple[bytes, bytes]


@dataclass(eq=False)
class _Append:
    events: list[Encoded]
    refs: frozenset[str] | None = None
    result: AppendResult | None = None
    error: BaseException | None = None
    taken: bool = False


@dataclass
class Writer:
    """Group commit of log appends (see the module docstring). Each caller's events are
    appended all or nothing, together with those of the callers queued with it."""

    append_all: Callable[[Iterable[Encoded]], AppendResult]
    wait: float
    # Told of each durable append and the subjects it touched, before its callers return.
    on_appended: Callable[[AppendResult, frozenset[str] | None], None] = lambda r, s: None
    _cond: threading.Condition = field(default_factory=threading.Condition)
    _queue: list[_Append] = field(default_factory=list)
    _writing: bool = False

    def append(self, events: Iterable[Encoded], refs: frozenset[str] | None = None) -> AppendResult:
        """Append durably; ``refs`` are the subjects the events touch (None: anyone)."""
        mine = _Append(list(events), refs)
        deadline = time.monotonic() + self.wait
        with self._cond:
            self._queue.append(mine)
            while self._writing and mine.result is None and mine.error is None:
                remaining = deadline - time.monotonic()
                if remaining <= 0 and not mine.taken:
                    self._queue.remove(mine)
                    raise Busy("the event log", self.wait)
                # Once taken into a batch, wait for that batch's outcome, however long.
                self._cond.wait(remaining if not mine.taken else None)
            if mine.result is None and mine.error is None:
                self._writing = True
                batch, self._queue = self._queue, []
                for item in batch:
                    item.taken = True
            else:
                batch = []
        if batch:
            self._write(batch)
        if mine.error is not None:
            raise mine.error
        assert mine.result is not None
        return mine.result

    def _write(self, batch: list[_Append]) -> None:
        try:
            result = self.append_all(e for item in batch for e in item.events)
            refs: frozenset[str] | None = frozenset()
            for item in batch:
                refs = None if refs is None or item.refs is None else refs | item.refs
            self.on_appended(result, refs)
        except BaseException as exc:
            for item in batch:
                item.error = exc
        else:
            for item in batch:
                item.result = AppendResult(len(item.events), result.end)
        finally:
            with self._cond:
                self._writing = False
                self._cond.notify_all()


class Unprojected:
    """What this service appended that the follower may not have projected yet, and which
    subjects it touches: an answer about one subject waits only for what concerns it, not
    for every batch other clients are ingesting meanwhile.

    Every record before ``known`` (per partition) is projected or listed in ``appends``.
    Records someone else appended (``lineage emit`` in another process) lie in a gap before
    one of ours, or beyond ``known``: they are waited for by everyone."""

    def __init__(self, known: Mapping[int, int]) -> None:
        self._lock = threading.Lock()
        self.known = dict(known)
        self.appends: list[tuple[dict[int, int], frozenset[str] | None]] = []

    def appended(
        self, result: AppendResult, refs: frozenset[str] | None, projected: Mapping[int, int]
    ) -> None:
        with self._lock:
            self._forget(projected)
            for p, start in (result.start or {}).items():
                if start > self.known.get(p, start):  # another writer's records before ours
                    self.appends.append(({p: start}, None))
            if result.start is None:  # others' records may lie anywhere among ours
                refs = None
            self.appends.append((dict(result.end), refs))
            for p, end in result.end.items():
                if result.start is not None or p in self.known:
                    self.known[p] = max(self.known.get(p, end), end)

    def targets(
        self,
        refs: set[str] | Callable[[], set[str]],
        ends: Mapping[int, int],
        projected: Mapping[int, int],
    ) -> dict[int, int]:
        """Per partition, the offset the projection must hold before answering about
        ``refs`` everything acknowledged up to ``ends``. ``refs`` may be a function: it is
        called (once, outside the lock) only when a pending append names its subjects."""
        with self._lock:
            self._forget(projected)
            appends = list(self.appends)
            known = dict(self.known)
        asked: set[str] | None = None
        out: dict[int, int] = {}
        for p, end in ends.items():
            upto = known.get(p)
            if upto is None or end > upto:  # records nobody told us about
                out[p] = end
                continue
            pending = [(e[p], touched) for e, touched in appends if p in e]
            if asked is None and any(touched is not None for _, touched in pending):
                asked = refs() if callable(refs) else refs
            concerned = [
                offset
                for offset, touched in pending
                if touched is None or (asked is not None and not touched.isdisjoint(asked))
            ]
            if concerned:
                out[p] = min(max(concerned), end)
        return out

    def _forget(self, projected: Mapping[int, int]) -> None:
        """Drop the appends the projection holds (under the lock)."""
        self.appends = [
            (end, touched)
            for end, touched in self.appends
            if any(projected.get(p, -1) < offset for p, offset in end.items())
        ]


# The kept audit summaries are brought up to date a step at a time, between batches when
# there is nothing to project, no request is being handled and nothing was appended for a
# moment (``Runtime.quiet``): a step holds Python's GIL for most of its time, so under
# steady load it would slow every answer; a batch or request that arrives meanwhile waits
# for one step at most.
# A step takes as many marked references as fold in about STEP_SECONDS (a component folds in
# about 0.3-1 ms; each step also costs a few queries): the number adapts to the last step's
# time, within these bounds (bench/serve_audit.py measures the longest step).
STEP_SECONDS = 0.1
STEP_REFS = (16, 128, 4096)  # least, first, most
# When a large share of the references is marked (after a rebuild, a migration, a catalog
# change: ``services.company.folds_all``), steps would take long: each has a cost of its
# own beside its components (queries over the marks and the kept summaries). Then one fold
# of every component runs instead, as the command-line audit's does (worker processes), on
# a thread and cursor of its own: batches go on being projected meanwhile, and readers fold
# what is marked until it commits. A failed one (a conflict) is tried again no sooner than
# it took, at least this many seconds later; steps go on meanwhile.
FOLD_RETRY_SECONDS = 1.0


class Follower:
    """Projects the log into the owned projection until stopped (a thread); when there is
    nothing to project, brings the kept audit summaries up to date a bounded step at a time
    (``services.company.refresh``) under the catalog ``catalog()`` gives."""

    def __init__(
        self,
        app: App,
        store: Store,
        catalog: Callable[[], Catalog | None] | None = None,
        step: int = STEP_REFS[1],
        quiet: Callable[[], bool] = lambda: True,
    ) -> None:
        self.app = app
        self.store = store
        self.catalog = catalog
        self.quiet = quiet  # whether a summary step may run now
        self.step = step
        # Summary steps that did work, and the longest so far in seconds (bench/serve_audit.py).
        self.longest_step = 0.0
        self.steps = 0
        self._step_error: str | None = None
        # The fold of every component, while it runs (see FOLD_RETRY_SECONDS); how many
        # committed (counted by its thread); its outcome for the follower's thread
        # (components stored, whether current, seconds); none again before ``_fold_after``.
        self._fold: threading.Thread | None = None
        self._fold_cursor: Any = None
        self._fold_outcome: tuple[int, bool, float] = (0, False, 0.0)
        self._fold_after = 0.0
        self.folds = 0
        settings = app.settings
        self.idle = min(max(settings.max_latency, 0.05), 1.0)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._cond = threading.Condition()
        self.positions: dict[int, int] = store.positions()
        # Moves after every transaction the follower commits (a batch, a summary step):
        # readers keep a snapshot open while it stays where it was when they began it.
        self.generation = 0
        # Called after each such commit (in the follower's thread).
        self.on_commit: Callable[[], None] = lambda: None
        # The identity graph kept warm once the thread starts (None until then).
        self.graph: IdentityGraph | None = None
        self.error: str | None = None
        self.applied = 0
        self.collector = Collector()
        self._thread = threading.Thread(target=self._run, name="lineage-follower", daemon=True)

    def catch_up(self, on_batch: Callable[[ProjectionResult], None] | None = None) -> None:
        """Project everything there is, in this thread (before the service starts)."""
        result = self.app.catch_up(self.store, on_batch=on_batch)
        if result is not None:
            self.positions = dict(result.positions)
            self.applied += result.applied

    def start(self) -> None:
        from lineage.graph.identity import BEFORE_ALL, IdentityGraph

        # Loaded here, before the thread runs: nothing else writes the projection meanwhile.
        graph = IdentityGraph(self.positions)
        graph.add(
            ((a, b, at, BEFORE_ALL) for a, b, at in self.store.fetch("identity_links_all")), {}
        )
        self.graph = graph
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread.ident is not None:  # started (a runtime may close before)
            self._thread.join()
        fold = self._fold
        while fold is not None and fold.is_alive():
            # Its reads are cut short (each interrupt ends the query running then); the
            # transaction is rolled back: the marks stay for the next start.
            with contextlib.suppress(Exception):
                self._fold_cursor.interrupt()
            fold.join(0.1)

    def kick(self) -> None:
        self._wake.set()

    def _run(self) -> None:
        backoff = 0.5
        while not self._stop.is_set():
            try:
                result = self.app.projector(self.store, follow=True).run(
                    limit=self.app.settings.batch_size
                )
            except LogUnavailableError as exc:
                self.error = str(exc)
                log.warning("%s; retrying in %.1fs", exc, backoff)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 10.0)
                continue
            except Exception as exc:  # a follower that dies silently would serve stale answers
                self.error = str(exc)
                log.exception("projection failed; retrying")
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 10.0)
                continue
            backoff, self.error = 0.5, None
            if self.graph is not None and result.positions != self.positions:
                try:
                    self._grow(self.graph, self.positions, result.positions)
                except Exception:  # answers go on, their links from the projection
                    log.exception("identity graph not updated; answering without it")
                    self.graph = None
            committed = bool(result.read) or result.positions != self.positions
            with self._cond:
                self.positions = dict(result.positions)
                self.applied += result.applied
                if committed:
                    self.generation += 1
                self._cond.notify_all()
            if committed:
                self.on_commit()
            self._folded()
            self.collector.maybe(self.quiet)
            if not result.read and not (self.quiet() and self._summaries()):
                self._wake.wait(self.idle)
                self._wake.clear()

    def _summaries(self) -> bool:
        """One step of the kept summaries; whether more steps are to follow at once."""
        from lineage.services.company import folds_all, refresh

        if self.catalog is None or self._fold is not None:
            return False
        started = time.perf_counter()
        try:
            catalog = self.catalog()
            if time.monotonic() >= self._fold_after and folds_all(self.store, catalog):
                self._fold_every(catalog)
                return False
            stored, current = refresh(self.store, catalog, limit=self.step)
        except Exception as exc:  # answers stay right without them: readers fold what is marked
            if str(exc) != self._step_error:  # once, not at every idle poll
                log.warning("audit summaries not brought up to date: %s", exc)
            self._step_error = str(exc)
            return False
        self._step_error = None
        if stored or not current:  # it wrote summaries or marks (else nothing was marked)
            took = time.perf_counter() - started
            with self._cond:
                self.generation += 1
            self.on_commit()
            self.steps += 1
            self.longest_step = max(self.longest_step, took)
            if stored:  # at most twice or half as many next time: one slow step is noise
                scale = min(max(STEP_SECONDS / max(took, 1e-3), 0.5), 2.0)
                self.step = min(max(int(self.step * scale), STEP_REFS[0]), STEP_REFS[2])
        return not current

    @property
    def folding(self) -> bool:
        """Whether the fold of every component is running."""
        return self._fold is not None

    def _fold_every(self, catalog: Catalog | None) -> None:
        """Start the fold of every component (``refresh`` without a limit, as the command
        line's audit runs it) on a thread and cursor of its own."""
        from lineage.services.company import refresh

        cursor = self.store.con.cursor()
        store = Store.over(cursor, self.store.path, read_only=False)

        def run() -> None:
            started = time.perf_counter()
            stored, current = 0, False
            log.info("audit summaries: folding every component again")
            try:
                stored, current = refresh(store, catalog)
                if stored or current:  # it committed
                    self.folds += 1
                log.info(
                    "audit summaries: %d components folded in %.1fs",
                    stored,
                    time.perf_counter() - started,
                )
            except Exception as exc:  # answers stay right: readers fold what is marked
                if not self._stop.is_set():
                    log.warning("audit summaries not folded again: %s", exc)
            finally:
                with contextlib.suppress(Exception):
                    cursor.close()
                self._fold_outcome = (stored, current, time.perf_counter() - started)
                self._wake.set()  # the follower takes note at once

        self._fold_cursor = cursor
        self._fold = threading.Thread(target=run, name="lineage-summaries", daemon=True)
        self._fold.start()

    def _folded(self) -> None:
        """Once the fold of every component has ended: readers are to begin snapshots that
        hold what it stored (in the follower's thread, as its own commits)."""
        fold = self._fold
        if fold is None or fold.is_alive():
            return
        fold.join()
        self._fold = self._fold_cursor = None
        stored, current, took = self._fold_outcome
        if stored or current:  # it committed
            with self._cond:
                self.generation += 1
            self.on_commit()
        else:  # a conflict or an error: steps meanwhile
            self._fold_after = time.monotonic() + max(took, FOLD_RETRY_SECONDS)

    def _grow(self, graph: IdentityGraph, before: Mapping[int, int], after: dict[int, int]) -> None:
        """Add the links the projection committed between two positions to the graph."""
        links = [
            (a, b, at, (p, offset))
            for p, end in after.items()
            for a, b, at, offset in self.store.fetch(
                "identity_links_applied",
                {"partition": p, "start": before.get(p, -1), "end": end},
            )
        ]
        graph.add(links, after)

    def committed(self) -> tuple[int, dict[int, int]]:
        """The generation and the positions of the follower's last commit, together."""
        with self._cond:
            return self.generation, self.positions

    def wait_for(self, ends: dict[int, int], begins: dict[int, int], timeout: float) -> None:
        """Return once the projection holds everything up to ``ends`` (log end offsets; a
        partition never read counts from its beginning)."""
        deadline = time.monotonic() + timeout

        def reached() -> bool:
            return all(self.positions.get(p, begins.get(p, 0)) >= end for p, end in ends.items())

        with self._cond:
            while not reached():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise Busy("the projection", timeout)
                self._wake.set()
                self._cond.wait(min(remaining, 0.05))


class Snapshot:
    """A request cursor and the read transaction on it. Kept open between requests while
    the follower commits nothing (its ``generation`` stays): the next answer then costs no
    ``BEGIN``/``ROLLBACK`` and no query for the snapshot's positions. One thread uses it
    at a time (DuckDB's cursors are not for concurrent use): the runtime hands it out."""

    def __init__(self, store: Store) -> None:
        self.store = store
        # The follower's generation when the transaction began (None: none is open), and
        # its positions then: the snapshot holds at least those.
        self.generation: int | None = None
        self.floor: dict[int, int] = {}
        self._positions: dict[int, int] | None = None

    def begin(self, generation: int, floor: dict[int, int]) -> None:
        """A new transaction; ``generation`` and ``floor`` read from the follower before it
        (DuckDB takes the snapshot at the transaction's first statement, after them)."""
        self.end()
        self.store.con.execute("BEGIN TRANSACTION")
        self.generation, self.floor, self._positions = generation, floor, None

    def end(self) -> None:
        if self.generation is not None:
            self.store.con.execute("ROLLBACK")
            self.generation = None

    def positions(self) -> dict[int, int]:
        """The positions this snapshot holds, asked once per transaction."""
        if self._positions is None:
            self._positions = self.store.positions()
        return self._positions


class ServeApp(App):
    """``App`` for request handlers: the projection is the service's own (snapshot reads
    through a cursor each), appends go through the service's writer, catching up means
    waiting for the follower."""

    def __init__(self, settings: Settings, runtime: Runtime, catalog_file: Any = None) -> None:
        super().__init__(settings, catalog_file)
        self.runtime = runtime
        # The identity links ``subject_store`` looked up in the snapshot it yielded, if any.
        self.links: list[tuple[str, str, datetime]] | None = None
        # The snapshot ``subject_store`` yielded (its positions are known once asked).
        self.snapshot: Snapshot | None = None

    def close(self) -> None:
        """The log belongs to the runtime: one request's end does not close it."""

    def catalog(self, *, check_taxonomy: bool = True) -> Catalog | None:
        return self.runtime.catalog(check_taxonomy)

    def pseudonymizer(self) -> Pseudonymizer:
        return self.runtime.pseudonymizer

    def summaries_waiting(self, store: Store) -> int:
        """The references the follower is still to fold under the service's catalog (every
        one after a change, until its fold of every component commits)."""
        from lineage.services.company import fingerprint, waiting

        try:
            want = fingerprint(self.catalog())
        except LineageError:  # a broken catalog: the audit says so; the marks are known
            return waiting(store)
        return waiting(store, want)

    @property
    def log(self) -> Any:
        return self.runtime.log

    def append(
        self, events: Iterable[Event], known: Mapping[str, str] | None = None
    ) -> AppendResult:
        from lineage.codec import default_codec

        codec = default_codec()
        # Scrubbed and encoded here, on the request's thread: the writer's turn holds only
        # the append.
        from lineage.ingest.record import touched

        clean = list(self.scrubbed(events, known))
        return self.runtime.writer.append(
            [(e.subject_ref.encode(), codec.encode(e)) for e in clean], touched(clean)
        )

    @contextmanager
    def store(self) -> Iterator[Store]:
        with self.runtime.snapshot() as store:
            yield store

    @contextmanager
    def query_store(self) -> Iterator[Store]:
        """A snapshot that holds everything acknowledged before the request: an answer is
        never older than the caller's own writes, as on the command line."""
        self.runtime.wait_for(self.runtime.log_ends(), self.settings.lock_timeout)
        with self.runtime.snapshot() as store:
            yield store

    @contextmanager
    def subject_store(self, refs: list[str]) -> Iterator[Store]:
        """``query_store`` for an answer about one subject: it waits only for the appends
        that touch the subject's identity component (or that the service cannot tell).

        Most answers cost no query here: the snapshot is the one the previous answer on
        this cursor read, while the follower committed nothing since, and what the follower
        reported projected when it began (the snapshot holds at least that) usually covers
        the targets; the component is looked up only when a pending append names subjects.
        When it was, ``self.links`` keeps its identity links in the yielded snapshot."""
        runtime = self.runtime
        ends = runtime.log_ends()
        deadline = time.monotonic() + self.settings.lock_timeout
        while True:
            # The cursor is taken within the bound on answers computed at once: as many
            # snapshots are kept open as answers run at once, not one per waiting request.
            with runtime.answering, runtime.reading() as snap:
                began = time.perf_counter()
                store = snap.store
                self.snapshot = snap
                self.links = None

                def component(store: Store = store) -> set[str]:
                    if self.links is None:
                        self.links = self.identity_links(store, refs)
                    return set(refs).union(*((a, b) for a, b, _at in self.links))

                projected = snap.floor
                targets = runtime.unprojected.targets(component, ends, projected)
                if not self._holds(projected, targets):
                    projected = snap.positions()  # what this snapshot holds: maybe more
                    targets = runtime.unprojected.targets(component, ends, projected)
                if self._holds(projected, targets):
                    try:
                        yield store
                    finally:
                        note_work(time.perf_counter() - began)
                    return
            # Wait (holding no place among the answers), then look again in a snapshot
            # begun after: links projected meanwhile may widen the component.
            runtime.wait_for(targets, max(deadline - time.monotonic(), 0))

    def identity_links(self, store: Store, refs: list[str]) -> list[tuple[str, str, datetime]]:
        """``services.whohas.identity_links`` in this snapshot: from the warm identity graph
        when it holds the snapshot's links (no query per hop; the snapshot's positions are
        asked once per snapshot)."""
        from lineage.services.whohas import identity_links

        graph = self.runtime.follower.graph
        if graph is not None:
            snap = self.snapshot
            held = snap.positions() if snap is not None and snap.store is store else None
            found = graph.links(refs, store.positions() if held is None else held)
            if found is not None:
                return found
        return identity_links(store, refs)

    def _holds(self, projected: Mapping[int, int], targets: Mapping[int, int]) -> bool:
        if all(projected.get(p, -1) >= t for p, t in targets.items()):
            return True
        # A partition never read counts from the log's beginning.
        begins = self.runtime.log_begins(targets, projected)
        return all(projected.get(p, begins.get(p, 0)) >= t for p, t in targets.items())

    def catch_up(self, store: Store, on_batch: Any = None) -> None:
        self.runtime.wait_for(self.runtime.log_ends(), self.settings.lock_timeout)
        # A fresh snapshot that includes what the follower just committed.
        store.con.execute("ROLLBACK")
        store.con.execute("BEGIN TRANSACTION")


class _Serialised:
    """One log handle shared by request threads and the writer, one call at a time
    (kafka-python's consumer is not thread-safe; the file log's calls are short)."""

    def __init__(self, log: Any) -> None:
        self._log = log
        self._lock = threading.RLock()

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._log, name)
        if not callable(attr):
            return attr

        def call(*args: Any, **kw: Any) -> Any:
            with self._lock:
                return attr(*args, **kw)

        return call


class Runtime:
    """The service's state: owned projection, log, follower, writer, rights lock."""

    def __init__(
        self,
        settings: Settings,
        catalog_file: Any = None,
        write_wait: float = 2.0,
        ingest_workers: int = 0,
        ingest_threshold: int | None = None,
    ):
        from lineage.log.factory import open_log
        from lineage.projection.access import following

        self.settings = settings
        self.catalog_file = catalog_file
        base = App(settings, catalog_file)
        base.require_home()
        self._following = following(settings.projection_path)
        self._following.__enter__()  # no `project --follow` may write it meanwhile
        try:
            self.store = Store(settings.projection_path)
        except BaseException:
            self._following.__exit__(None, None, None)
            raise
        # Another process holding the log's writer lock (a CLI emit) is waited for briefly,
        # then the request gets 503 with Retry-After.
        self.log: Any = _Serialised(open_log(replace(settings, lock_timeout=write_wait)))
        # Where the log ends, for readers that must see everything acknowledged: asked on a
        # handle of its own, so that they do not queue behind an append's fsync.
        self._probe: Any = _Serialised(open_log(settings))
        # Once for the service, not per request: the key file and the catalog (again when
        # its file changes).
        self.pseudonymizer = Pseudonymizer(settings.pseudonym_key())
        self._catalogs: dict[bool, tuple[Any, Catalog | None]] = {}
        self._catalog_lock = threading.Lock()
        # The follower reads through its own log handle: a reader and the writer never share
        # one client (kafka-python's consumer is not thread-safe).
        # When the writer last made an append durable (monotonic seconds; see ``quiet``).
        self.last_append = -float("inf")
        self.follower = Follower(base, self.store, self.catalog, quiet=self.quiet)
        ends, begins = self.log.end_offsets(), self.log.begin_offsets()
        self.unprojected = Unprojected(
            {p: self.follower.positions.get(p, begins.get(p, 0)) for p in ends}
        )
        self.writer = Writer(self._append, write_wait, self._appended)
        # Answers about one subject computed at once: as many as there are cores. More only
        # pass the GIL to and fro (measured: bench/serve.py, whohas phase); a request that
        # waits for the follower holds no place meanwhile.
        self.answering = threading.BoundedSemaphore(os.cpu_count() or 2)
        # Rights requests read their own writes and check for open requests first: one at a
        # time, so two erasures of one subject cannot both pass the check.
        self.rights = threading.Lock()
        # Request cursors come from a connection nobody runs queries on (the follower's is
        # busy in another thread), one at a time; a request's cursor is kept for the next
        # (a new one and its set-up cost more than many a whole answer).
        self._cursors = self.store.con.cursor()
        self._cursor_lock = threading.Lock()
        self._idle: list[Snapshot] = []
        self.follower.on_commit = self._expire
        # Ingest batches are prepared in worker processes (0: in the request's thread).
        self.ingest: IngestPool | None = None
        if ingest_workers:
            from lineage.serve.ingest import DEFAULT_THRESHOLD, IngestPool

            self.ingest = IngestPool(
                settings,
                catalog_file,
                ingest_workers,
                DEFAULT_THRESHOLD if ingest_threshold is None else ingest_threshold,
            )

    def _append(self, items: Iterable[Encoded]) -> AppendResult:
        from lineage.log.base import LogRecord

        records = (LogRecord(data, key) for key, data in items)
        try:
            return self.log.append(records)
        except LogBusyError as exc:  # another process holds the log's writer lock
            raise Busy("the event log", exc.waited) from None

    def app(self) -> ServeApp:
        return ServeApp(self.settings, self, self.catalog_file)

    def _appended(self, result: AppendResult, refs: frozenset[str] | None) -> None:
        self.last_append = time.monotonic()
        self.unprojected.appended(result, refs, self.follower.positions)
        self.follower.kick()

    def quiet(self) -> bool:
        """Whether the follower may take a step of the kept summaries now: no request in
        hand, and nothing appended for one of its idle periods. Under steady ingest there
        are moments with no request in hand, and a step begun in one holds the GIL while
        the next batches arrive (bench/README.md, serve.py)."""
        if requests_in_flight():
            return False
        return time.monotonic() - self.last_append >= self.follower.idle

    def log_ends(self) -> dict[int, int]:
        """The log's end offsets now (another process may have appended: asked each time)."""
        result: dict[int, int] = self._probe.end_offsets()
        return result

    def log_begins(self, ends: Mapping[int, int], projected: Mapping[int, int]) -> dict[int, int]:
        """The log's begin offsets, asked only when a partition of ``ends`` was never
        projected (the only case where they matter; the file log lists its segments)."""
        if all(p in projected for p in ends):
            return {}
        result: dict[int, int] = self._probe.begin_offsets()
        return result

    def wait_for(self, ends: dict[int, int], timeout: float) -> None:
        """Return once the projection holds everything up to ``ends``."""
        self.follower.wait_for(ends, self.log_begins(ends, self.follower.positions), timeout)

    def catalog(self, check_taxonomy: bool = True) -> Catalog | None:
        """The catalog, loaded again only when its file changed."""
        from lineage.catalog import catalog_stamp

        stamp = catalog_stamp(self.settings.home, self.catalog_file)
        with self._catalog_lock:
            cached = self._catalogs.get(check_taxonomy)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        loaded = App(self.settings, self.catalog_file).catalog(check_taxonomy=check_taxonomy)
        with self._catalog_lock:
            self._catalogs[check_taxonomy] = (stamp, loaded)
        return loaded

    @contextmanager
    def snapshot(self) -> Iterator[Store]:
        """A transaction of its own, begun now and ended after (a request that may wait
        and begin it again, or that must see its own writes)."""
        with self._handout(kept=False) as snap:
            snap.begin(*self.follower.committed())
            try:
                yield snap.store
            finally:
                snap.end()

    @contextmanager
    def reading(self) -> Iterator[Snapshot]:
        """A snapshot that holds at least every commit of the follower before the call:
        the one kept open on an idle cursor when the follower committed nothing since it
        began, else a new one. Kept open after (ended by ``_expire`` once stale)."""
        with self._handout(kept=True) as snap:
            generation, floor = self.follower.committed()
            if snap.generation != generation:
                snap.begin(generation, floor)
            try:
                yield snap
            except BaseException:
                # A failed statement may have aborted the transaction: the next one begins
                # anew (if this fails too, the cursor is dropped).
                with contextlib.suppress(Exception):
                    snap.end()
                raise

    @contextmanager
    def _handout(self, kept: bool) -> Iterator[Snapshot]:
        """An idle cursor for one thread: one with a transaction left open on it if
        ``kept``, else one without if there is (so that a request that begins its own does
        not end one kept for answers); back to the idle ones after, unless it failed."""
        with self._cursor_lock:
            snap = None
            for i in range(len(self._idle) - 1, -1, -1):
                if (self._idle[i].generation is not None) == kept:
                    snap = self._idle.pop(i)
                    break
            else:  # a new cursor rather than end a kept transaction
                snap = self._idle.pop() if self._idle and kept else None
            if snap is None:
                snap = Snapshot(Store.over(self._cursors.cursor(), self.store.path))
        reusable = False
        try:
            yield snap
            reusable = True
        finally:
            if not reusable:
                try:
                    snap.end()
                    reusable = True
                except Exception:
                    snap.store.con.close()
            if reusable:
                with self._cursor_lock:
                    self._idle.append(snap)

    def _expire(self) -> None:
        """End the idle cursors' transactions older than the follower's last commit (in
        the follower's thread, after each commit): an open transaction keeps the versions
        of rows changed since it began, and cursors idle for long would keep them all."""
        generation = self.follower.generation
        with self._cursor_lock:
            for snap in list(self._idle):
                if snap.generation is not None and snap.generation != generation:
                    try:
                        snap.end()
                    except Exception:  # a cursor in an unknown state: dropped
                        log.exception("ending an idle snapshot failed")
                        self._idle.remove(snap)
                        with contextlib.suppress(Exception):
                            snap.store.con.close()

    def close(self) -> None:
        try:
            try:
                if self.ingest is not None:
                    self.ingest.close()  # batches in flight finish; queued ones are cancelled
            finally:
                self.follower.stop()
        finally:
            self.log.close()
            self._probe.close()
            self.follower.app.close()
            for idle in self._idle:
                idle.store.con.close()
            self._cursors.close()
            self.store.close()
            self._following.__exit__(None, None, None)
