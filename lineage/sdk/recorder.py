"""``Recorder``: an application records events into the lineage home itself (no service).

Each call goes through the edge at once, in the caller's thread: identifiers are
pseudonymised and the event is validated there (a bad call raises ``InputError`` and nothing
is buffered), so no raw identifier stays in the buffer. ``flush`` appends the buffer through
``lineage.ingest.record`` (scrubbed, encoded, one durable all-or-nothing append), the same
path as ``lineage emit``. A full buffer (``batch_size``) is flushed by the call that filled it.
"""

from __future__ import annotations

import threading
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from lineage.sdk.events import EventMethods

if TYPE_CHECKING:
    from lineage.config import Settings
    from lineage.events.model import Event
    from lineage.ingest.record import Recorded


class Recorder(EventMethods):
    """Records into the home's log (file or Kafka, as its settings say). Thread-safe: calls
    from many threads share one buffer and one log append at a time.

    ``home`` (else ``LINEAGE_HOME``, else ``./.lineage``) or ``settings``; ``catalog`` is a
    catalog file whose custom taxonomy keys events may use (default: the home's
    ``lineage.yaml``)."""

    def __init__(
        self,
        home: str | Path | None = None,
        *,
        settings: Settings | None = None,
        catalog: str | Path | None = None,
        source: str = "sdk",
        batch_size: int = 1000,
    ) -> None:
        from lineage.config import resolve
        from lineage.ingest.record import parser_for
        from lineage.services.app import App

        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self._app = App(settings or resolve(home), catalog)
        self._app.require_home()
        self.source = source
        self.batch_size = batch_size
        self._parser = parser_for(self._app, source)
        self._buffer: list[Event] = []
        self._lock = threading.RLock()
        self.recorded = 0  # events appended by this recorder so far

    @property
    def settings(self) -> Settings:
        return self._app.settings

    def _add(self, obj: dict[str, Any]) -> None:
        with self._lock:
            where = f"{self.source}[{self.recorded + len(self._buffer)}]"
            self._buffer += self._parser.parse_object(obj, where)
            if len(self._buffer) >= self.batch_size:
                self.flush()

    def flush(self) -> Recorded | None:
        """Append what is buffered, durably; None when there was nothing. On an error the
        buffer is kept (nothing of it was appended) and the call may be repeated."""
        from lineage.ingest.record import Input, record

        with self._lock:
            if not self._buffer:
                return None
            events = self._buffer
            start = self.recorded
            result = record(self._app, Input(events, lambda i: f"{self.source}[{start + i}]"))
            self._buffer = []
            self.recorded += result.appended
            return result

    @property
    def pending(self) -> int:
        """Events buffered, not yet appended."""
        return len(self._buffer)

    def close(self) -> None:
        """Flush, then release the log (Kafka's producer, the file log's handles)."""
        try:
            self.flush()
        finally:
            self._app.close()

    def __enter__(self) -> Recorder:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # Flushed also when the block raised: every call recorded a fact that had happened.
        self.close()
