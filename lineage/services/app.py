"""The application: settings, log, projection and the edge, wired once per command."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lineage.config import Settings, init_home
from lineage.edge.identity import Pseudonymizer, is_subject_ref
from lineage.errors import ConfigError
from lineage.log.base import AppendResult, Log, LogRecord
from lineage.log.factory import open_log
from lineage.projection.store import Store

if TYPE_CHECKING:  # the projector pulls in pyarrow and fastavro: only when there is work
    from lineage.events.model import Event
    from lineage.projection.projector import ProjectionResult, Projector


class App:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._log: Log | None = None

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

    def pseudonymizer(self) -> Pseudonymizer:
        return Pseudonymizer(self.settings.pseudonym_key())

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
    def append(self, events: Iterable[Event]) -> AppendResult:
        from lineage.codec import default_codec

        codec = default_codec()
        return self.log.append(LogRecord(codec.encode(e), e.subject_ref.encode()) for e in events)

    # -- the projection -------------------------------------------------------------------
    @contextmanager
    def store(self) -> Iterator[Store]:
        self.require_home()
        store = Store(self.settings.projection_path)
        try:
            yield store
        finally:
            store.close()

    def projector(self, store: Store) -> Projector:
        from lineage.codec import default_codec
        from lineage.projection.projector import Projector

        return Projector(store, self.log, default_codec(), batch_size=self.settings.batch_size)

    def pending(self, store: Store) -> int:
        """What is left to project (0 when the projection is current). Cheap: no decoding."""
        positions = store.positions()
        begins = self.log.begin_offsets()
        return sum(
            max(0, end - positions.get(p, begins.get(p, 0)))
            for p, end in self.log.end_offsets().items()
        )

    def catch_up(
        self, store: Store, on_batch: Callable[[ProjectionResult], None] | None = None
    ) -> ProjectionResult | None:
        """Project what the log has beyond the projection; None when it was current."""
        if store.meta("log_id") == self.log.log_id and not self.pending(store):
            return None
        return self.projector(store).run(on_batch=on_batch)

    def rebuild(
        self, on_batch: Callable[[ProjectionResult], None] | None = None
    ) -> ProjectionResult:
        """Build a new projection beside the old one and swap it in only when complete."""
        self.require_home()
        target = self.settings.projection_path
        tmp = target.with_name(target.name + ".rebuild")
        for stale in (tmp, Path(str(tmp) + ".wal")):
            stale.unlink(missing_ok=True)
        store = Store(tmp)
        try:
            result = self.projector(store).run(on_batch=on_batch)
            store.con.execute("CHECKPOINT")
        finally:
            store.close()
        os.replace(tmp, target)
        Path(str(target) + ".wal").unlink(missing_ok=True)
        return result

    def status(self, store: Store) -> dict[str, Any]:
        log = self.log
        rows = store.fetch_dicts("status")
        counts = rows[0] if rows else {}
        return {
            "home": str(self.settings.home),
            "log": {
                "backend": log.kind,
                "id": log.log_id,
                "size_bytes": log.size_bytes(),
                "end": log.end_offsets(),
            },
            "projection": {
                "path": str(self.settings.projection_path),
                "position": store.positions(),
                "pending": self.pending(store),
                **counts,
            },
        }


def as_of_default(value: datetime | None) -> datetime:
    from lineage.timeutil import now

    return value or now()
