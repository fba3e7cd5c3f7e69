"""The application: settings, log, projection and the edge, wired once per command."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lineage.config import Settings, init_home
from lineage.edge.identity import Pseudonymizer, is_subject_ref
from lineage.errors import (
    ConfigError,
    InputError,
    NoSpaceError,
    ProjectionBusyError,
    ProjectionError,
    is_no_space,
)
from lineage.log.base import AppendResult, Log, LogRecord, pending
from lineage.log.factory import open_log
from lineage.projection.store import Store
from lineage.timeutil import iso, now

if TYPE_CHECKING:  # the projector pulls in pyarrow and fastavro: only when there is work
    from lineage.catalog.catalog import Catalog
    from lineage.events.model import Event
    from lineage.events.taxonomy import Taxonomy
    from lineage.projection.projector import ProjectionResult, Projector

# DuckDB's memory cap while a rebuild loads the events (it evicts written blocks and spills
# beyond it). See bench/README.md, scale.py and rebuild_memory.py.
REBUILD_MEMORY_LIMIT = "256MB"
# An index being built cannot be evicted: the ART of 10M subject references needed between
# 400 and 600 MB. By then the load's own buffers are freed.
INDEX_BYTES_PER_EVENT = 60


def index_memory_limit(events: int) -> str:
    """DuckDB's memory cap while a rebuild builds the indexes over ``events`` rows."""
    return f"{max(256, -(-events * INDEX_BYTES_PER_EVENT // 1_000_000))}MB"


class App:
    def __init__(self, settings: Settings, catalog_file: str | Path | None = None) -> None:
        self.settings = settings
        self.catalog_file = catalog_file
        self._log: Log | None = None
        self._catalogs: dict[bool, Catalog | None] = {}
        self._pseudo: Pseudonymizer | None = None

    def close(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    # -- set-up ---------------------------------------------------------------------------
    def init(self) -> bool:
        created = init_home(self.settings.home)
        self._log = open_log(self.settings, create=True)
        return created

    def require_home(self) -> None:
        if not self.settings.home.is_dir():
            raise ConfigError(
                f"no lineage home at {self.settings.home}: run `lineage init` "
                "(or pass --home / set LINEAGE_HOME)"
            )

    @property
    def log(self) -> Log:
        if self._log is None:
            self.require_home()
            self._log = open_log(self.settings)
        return self._log

    # -- the catalog ----------------------------------------------------------------------
    def catalog(self, *, check_taxonomy: bool = True) -> Catalog | None:
        """The catalog (``--catalog FILE`` or ``lineage.yaml`` in the home), or None.
        ``check_taxonomy=False`` skips the fideslang key checks, for fast read paths."""
        if check_taxonomy in self._catalogs:
            return self._catalogs[check_taxonomy]
        from lineage.catalog import catalog_path

        path = catalog_path(self.settings.home, self.catalog_file)
        loaded = None
        if path is not None:
            from lineage.catalog.loader import load_catalog

            loaded = load_catalog(path, check_taxonomy=check_taxonomy)
        self._catalogs[check_taxonomy] = loaded
        return loaded

    def require_catalog(self) -> Catalog:
        """The catalog, for commands that cannot work without one."""
        catalog = self.catalog()
        if catalog is None:
            raise InputError(
                f"no catalog: give --catalog FILE or create {self.settings.home / 'lineage.yaml'}"
            )
        return catalog

    def taxonomy(self) -> Taxonomy | None:
        """fideslang extended with the catalog's custom keys; None without a catalog."""
        catalog = self.catalog()
        return catalog.taxonomy if catalog else None

    def forget_catalog(self) -> None:
        """Load the catalog again at the next use (its file changed)."""
        self._catalogs.clear()

    def use_pseudonymizer(self, pseudo: Pseudonymizer) -> None:
        """Pseudonymise with this (a worker process is given the key; it reads no file)."""
        self._pseudo = pseudo

    def pseudonymizer(self) -> Pseudonymizer:
        if self._pseudo is None:
            self._pseudo = Pseudonymizer(self.settings.pseudonym_key())
        return self._pseudo

    def refs_for(self, identifiers: Iterable[tuple[str, str]]) -> list[str]:
        pseudo: Pseudonymizer | None = None
        refs = []
        for kind, value in identifiers:
            if kind == "ref" or (kind == "" and is_subject_ref(value)):
                refs.append(value)
                continue
            pseudo = pseudo or self.pseudonymizer()
            refs.append(pseudo.ref(kind, value))
        return refs

    # -- writing --------------------------------------------------------------------------
    def append(
        self, events: Iterable[Event], known: Mapping[str, str] | None = None
    ) -> AppendResult:
        """Append durably. Every producer comes through here, so the free text of events
        (reasons, notes, evidence) is scrubbed here; ``known`` are raw identifiers of the
        subject at hand (an erasure's), replaced by their references wherever they appear."""
        from lineage.codec import default_codec

        codec = default_codec()
        clean = self.scrubbed(events, known)
        return self.log.append(LogRecord(codec.encode(e), e.subject_ref.encode()) for e in clean)

    def scrubbed(
        self, events: Iterable[Event], known: Mapping[str, str] | None = None
    ) -> Iterator[Event]:
        """``events`` with their free text scrubbed: what every append goes through."""
        from lineage.edge.scrub import Scrubber

        return Scrubber(self.pseudonymizer(), known).events(events)

    # -- the projection -------------------------------------------------------------------
    @contextmanager
    def store(self) -> Iterator[Store]:
        """The projection, writable. Another process using it is waited for (at most the
        lock timeout, then exit 3 "busy")."""
        from lineage.projection.access import open_store

        self.require_home()
        path = self.settings.projection_path
        store = open_store(path, read_only=False, timeout=self.settings.lock_timeout)
        try:
            yield store
        finally:
            store.close()

    @contextmanager
    def query_store(self) -> Iterator[Store]:
        """The projection for answering. With a live follower: read-only, between its batches
        (``store.read_only``; the follower keeps it current). In a read-only home (a mounted
        backup): read-only, and only when it is current. Otherwise writable, so the caller
        can catch up first."""
        from lineage.projection.access import follower_pid, open_store, reader_turn

        self.require_home()
        path = self.settings.projection_path
        if follower_pid(path) is not None:
            with reader_turn(path):
                store = open_store(path, read_only=True, timeout=self.settings.lock_timeout)
                try:
                    yield store
                finally:
                    store.close()
            return
        if self._writable():
            with self.store() as store:
                yield store
            return
        home = self.settings.home
        if not path.exists():
            raise ProjectionError(f"no projection at {path} and the home {home} is read-only")
        store = open_store(path, read_only=True, timeout=self.settings.lock_timeout)
        try:
            if store.meta("log_id") != self.log.log_id or self.pending(store):
                raise ProjectionError(
                    f"projection {path} is behind the log and the home {home} is read-only: "
                    "run `lineage project` where the home is writable"
                )
            self._check_positions(store)
            yield store
        finally:
            store.close()

    def _writable(self) -> bool:
        path = self.settings.projection_path
        return os.access(self.settings.home, os.W_OK) and (
            not path.exists() or os.access(path, os.W_OK)
        )

    def projector(self, store: Store, *, follow: bool = False, verify: bool = True) -> Projector:
        from lineage.codec import default_codec
        from lineage.projection.projector import Projector

        return Projector(
            store,
            self.log,
            default_codec(),
            batch_size=self.settings.batch_size,
            taxonomy=self.taxonomy(),
            # A latency bound matters to a follower; a catch-up wants full batches.
            max_latency=self.settings.max_latency if follow else None,
            workers=self.settings.project_workers,
            verify=verify,
        )

    def pending(self, store: Store) -> int:
        """What is left to project (0 when the projection is current). Cheap: no decoding."""
        return pending(self.log, store.positions())

    def catch_up(
        self, store: Store, on_batch: Callable[[ProjectionResult], None] | None = None
    ) -> ProjectionResult | None:
        """Project what the log has beyond the projection; None when it was current."""
        if store.meta("log_id") == self.log.log_id and not self.pending(store):
            self._check_positions(store)  # never "current" by mistake
            return None
        result = self.projector(store).run(on_batch=on_batch)
        store.check_file()  # never report work written to a deleted file
        return result

    def _check_positions(self, store: Store) -> None:
        from lineage.projection.position import check_positions

        check_positions(self.log, store.marks(), store.path)

    def rebuild(
        self, on_batch: Callable[[ProjectionResult], None] | None = None
    ) -> ProjectionResult:
        """Build a new projection beside the old one and swap it in only when complete.
        One rebuild at a time: another waits (the lock timeout), then exit 3 "busy"."""
        from filelock import FileLock, Timeout

        self.require_home()
        target = self.settings.projection_path
        tmp = target.with_name(target.name + ".rebuild")
        timeout = self.settings.lock_timeout
        lock = FileLock(f"{tmp}.lock", mode=0o600)
        try:
            lock.acquire(timeout=timeout)
        except Timeout:
            raise ProjectionBusyError(str(target), timeout, "another rebuild is running") from None
        try:
            for stale in (tmp, Path(f"{tmp}.wal")):
                stale.unlink(missing_ok=True)
            try:
                # The lookup indexes are built once at the end: maintained row by row, they
                # stay whole in memory and leave freed blocks in the file. The memory limit
                # makes DuckDB evict the blocks it has written instead of caching them all.
                store = Store(tmp, indexes=False, memory_limit=REBUILD_MEMORY_LIMIT)
                try:
                    result = self.projector(store).run(on_batch=on_batch)
                    rows = store.con.execute("SELECT count(*) FROM events").fetchall()
                    store.create_indexes(index_memory_limit(int(rows[0][0])))
                    store.fill_flows()
                    store.con.execute("CHECKPOINT")
                finally:
                    store.close()
                os.replace(tmp, target)
            except BaseException as exc:
                for partial in (tmp, Path(f"{tmp}.wal")):  # nothing half-written stays
                    partial.unlink(missing_ok=True)
                if is_no_space(exc) and not isinstance(exc, NoSpaceError):
                    raise NoSpaceError(target) from None
                raise
            Path(f"{target}.wal").unlink(missing_ok=True)
        finally:
            lock.release()
        return result

    def dead_letters(self) -> list[dict[str, Any]]:
        """Records set aside: the dead-letter topic of a log that has one, else the
        projection's quarantine table."""
        from lineage.log.base import DeadLetterLog

        log = self.log
        if isinstance(log, DeadLetterLog):
            return [r._asdict() for r in log.dead_letters()]
        with self.query_store() as store:
            return store.fetch_dicts("dead_letters")

    def status(self, store: Store) -> dict[str, Any]:
        from lineage.log.base import DeadLetterLog

        log = self.log
        rows = store.fetch_dicts("status")
        counts = rows[0] if rows else {}
        future = self.future_events(store)
        dead = len(log.dead_letters()) if isinstance(log, DeadLetterLog) else None
        return {
            "home": str(self.settings.home),
            "log": {
                "backend": log.kind,
                "id": log.log_id,
                "size_bytes": log.size_bytes(),
                "end": log.end_offsets(),
                "dead_letters": dead if dead is not None else counts.get("quarantined", 0),
            },
            "projection": {
                "path": str(self.settings.projection_path),
                "position": store.positions(),
                "pending": self.pending(store),
                **counts,
                "future_events": future["events"],
                "first_future_event_at": iso(future["first_at"]),
                # References whose components' kept audit summaries are to be folded again.
                "summaries_waiting": self.summaries_waiting(store),
            },
        }

    def summaries_waiting(self, store: Store) -> int:
        """The references the next audit folds again (the marks: which catalog it reads
        is the audit's option)."""
        from lineage.services.company import waiting

        return waiting(store)

    def future_horizon(self) -> datetime:
        """Events dated after this are further ahead of our clock than the tolerance."""
        return now() + timedelta(seconds=self.settings.future_tolerance)

    def future_events(
        self, store: Store, after: datetime | None = None, refs: list[str] | None = None
    ) -> dict[str, Any]:
        """How many events (of ``refs``, or of everyone) are dated after ``after`` (default:
        the future horizon), and the first such date."""
        from lineage.services.whohas import future_events

        return future_events(store, after or self.future_horizon(), refs)
