"""The exception tree. Every error lineage raises on purpose derives from ``LineageError``.

    LineageError
    ├── ConfigError             settings, home directory, pseudonym key
    ├── InputError              bad user input (carries ``where``: file:line, option name)
    │   ├── TaxonomyError       unknown category / data use / data subject
    │   ├── UnknownNameError    a holder (or other name) lineage has never seen
    │   └── IdentifierError     an identifier lineage cannot interpret
    ├── CodecError              bytes that are not a valid event (carries ``reason``)
    │   └── UnknownSchemaError  single-object fingerprint not in the registry
    ├── LogError                the event log
    │   ├── LogBusyError        another process holds the writer lock
    │   ├── LogCorruptError     a record failed its checksum (carries ``position``)
    │   ├── LogDamagedError     a file of the log (META, HEAD) is damaged: `lineage log repair`
    │   ├── LogUnavailableError a backend cannot be reached (broker down, ...)
    │   └── LogDeliveryError    the broker did not acknowledge some records (carries which)
    ├── ProjectionError         the DuckDB projection
    │   ├── ProjectionBusyError      another process holds it past the wait (exit 3)
    │   └── ProjectionMismatchError  projection built from another log: rebuild it
    ├── NoSpaceError            the disk is full (carries ``path``)
    ├── RequestError            a rights request (erasure, rectification, restriction)
    │   ├── UnknownRequestError      no request with that id (exit 2)
    │   ├── LinkUsedError            an answer link or callback already used or superseded
    │   └── OpenRequestError         the subject already has an open request (carries its id)
    ├── EraserError             an eraser could not erase at a holder (carries ``holder``)
    │   ├── TransientEraserError     worth retrying (timeout, HTTP 429/5xx)
    │   └── TerminalEraserError      retrying will not help (bad credentials, missing id)
    ├── ExportError             an export's destination refused it or could not be reached
    ├── EvidenceError           an evidence bundle that does not verify (exit 1)
    └── NothingToDraw           a data map would be empty

Each error is one readable sentence; the CLI prints it as one line and exits with
``exit_code``. Attributes keep the inputs so callers and tests need not parse messages.
"""

from __future__ import annotations

import errno
from collections.abc import Callable
from typing import Any


class LineageError(Exception):
    """Root of lineage's errors. ``exit_code`` is what the CLI exits with."""

    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message

    def __reduce__(self) -> tuple[Any, ...]:
        # Subclasses take other arguments than the message: rebuild from the attributes
        # (an error raised in a worker process reaches the service whole).
        return _rebuilt, (type(self), self.message, self.__dict__)


def _rebuilt(kind: type[LineageError], message: str, state: dict[str, Any]) -> LineageError:
    error = kind.__new__(kind)
    Exception.__init__(error, message)
    error.__dict__.update(state)
    return error


class ConfigError(LineageError):
    exit_code = 2


class InputError(LineageError):
    """Bad input. ``where`` names the place: ``events.jsonl:12``, ``--as-of``."""

    exit_code = 2

    def __init__(self, message: str, where: str | None = None) -> None:
        super().__init__(f"{where}: {message}" if where else message)
        self.where = where
        self.problem = message


class TaxonomyError(InputError):
    def __init__(
        self, kind: str, key: str, suggestions: list[str], where: str | None = None
    ) -> None:
        hint = f" (did you mean {', '.join(repr(s) for s in suggestions)}?)" if suggestions else ""
        super().__init__(f"unknown {kind} {key!r}{hint}", where)
        self.kind = kind
        self.key = key
        self.suggestions = suggestions


class IdentifierError(InputError):
    pass


class UnknownNameError(InputError):
    """A name given as an option that neither the events nor the catalog know: answering
    anyway would give a silent empty answer (0 subjects at a misspelt holder)."""

    def __init__(self, kind: str, name: str, suggestions: list[str], where: str | None) -> None:
        hint = f"; did you mean {', '.join(repr(s) for s in suggestions)}?" if suggestions else ""
        super().__init__(f"unknown {kind} {name!r}{hint}", where)
        self.kind = kind
        self.name = name
        self.suggestions = suggestions


class CodecError(LineageError):
    def __init__(self, reason: str) -> None:
        super().__init__(f"cannot decode event: {reason}")
        self.reason = reason


class UnknownSchemaError(CodecError):
    def __init__(self, fingerprint: bytes) -> None:
        super().__init__(f"unknown writer schema fingerprint {fingerprint.hex()}")
        self.fingerprint = fingerprint


class LogError(LineageError):
    pass


class LogBusyError(LogError):
    exit_code = 3

    def __init__(self, path: str, waited: float) -> None:
        super().__init__(
            f"event log is busy: another process is writing to {path} (waited {waited:g}s)"
        )
        self.path = path
        self.waited = waited


class LogCorruptError(LogError):
    def __init__(self, position: int, reason: str) -> None:
        super().__init__(f"corrupt log record at position {position}: {reason}")
        self.position = position
        self.reason = reason


class LogDamagedError(LogError):
    """A file the log needs to open is damaged; ``lineage log repair`` rebuilds it."""

    def __init__(self, path: object, problem: str) -> None:
        super().__init__(f"event log file {path} is damaged ({problem}): run `lineage log repair`")
        self.path = str(path)
        self.problem = problem


class LogUnavailableError(LogError):
    exit_code = 3


class LogDeliveryError(LogError):
    """Some records were not acknowledged. ``failed`` holds their 0-based input positions;
    ``places`` names the first of them where the caller knows more (``events.jsonl:17``)."""

    exit_code = 3

    def __init__(
        self,
        failed: list[int],
        total: int,
        reason: str,
        what: str = "events",
        places: list[str] | None = None,
    ) -> None:
        which = (
            f"first at {', '.join(places[:_SHOWN])}{', ...' if len(failed) > _SHOWN else ''}"
            if places
            else f"{what} {_ranges(failed)}, counting from 1"
        )
        super().__init__(
            f"{len(failed)} of {total} {what} were not acknowledged by the broker and may not "
            f"be written ({which}): {reason}"
        )
        self.failed = failed
        self.total = total
        self.reason = reason
        self.what = what
        self.places = places

    def naming(self, place: Callable[[int], str]) -> LogDeliveryError:
        """The same error naming its first failed records by ``place(position)``."""
        places = list(dict.fromkeys(place(i) for i in sorted(self.failed)[: _SHOWN * 4]))
        return LogDeliveryError(self.failed, self.total, self.reason, self.what, places)


_SHOWN = 5


def _ranges(indices: list[int], limit: int = 5) -> str:
    spans: list[tuple[int, int]] = []
    for i in sorted(indices):
        if spans and spans[-1][1] == i - 1:
            spans[-1] = (spans[-1][0], i)
        else:
            spans.append((i, i))
    text = [f"{a + 1}" if a == b else f"{a + 1}-{b + 1}" for a, b in spans[:limit]]
    return ", ".join(text) + (", ..." if len(spans) > limit else "")


class ProjectionError(LineageError):
    pass


class ProjectionBusyError(ProjectionError):
    exit_code = 3

    def __init__(self, path: str, waited: float, what: str = "in use by another process") -> None:
        super().__init__(f"projection {path} is busy: {what} (waited {waited:g}s)")
        self.path = path
        self.waited = waited


class ProjectionMismatchError(ProjectionError):
    pass


class NoSpaceError(LineageError):
    """A write failed for lack of space; nothing of it was kept."""

    def __init__(self, path: object) -> None:
        super().__init__(f"no space left on {path}: nothing was written; free space and retry")
        self.path = str(path)


def is_no_space(exc: BaseException) -> bool:
    """Whether ``exc`` (an OSError, or a driver's error that wraps one) is a full disk."""
    return getattr(exc, "errno", None) == errno.ENOSPC or "No space left on device" in str(exc)


class RequestError(LineageError):
    exit_code = 2


class UnknownRequestError(RequestError):
    def __init__(self, request_id: str, suggestions: list[str] | None = None) -> None:
        self.suggestions = suggestions or []
        hint = (
            f"did you mean {', '.join(repr(s) for s in self.suggestions)}? "
            if self.suggestions
            else ""
        )
        super().__init__(
            f"no request {request_id!r} ({hint}see `lineage erasure status` for the known ones)"
        )
        self.request_id = request_id


class LinkUsedError(RequestError):
    """An answer link or callback for a task already answered (or a superseded message):
    single-use, so nothing is recorded."""

    exit_code = 1


class OpenRequestError(RequestError):
    exit_code = 1

    def __init__(self, request_id: str, kind: str) -> None:
        super().__init__(
            f"this subject already has an open {kind} request {request_id}: "
            f"see `lineage erasure status {request_id}`"
        )
        self.request_id = request_id
        self.kind = kind


class EraserError(LineageError):
    """Raised by an eraser. ``transient`` says whether retrying may help."""

    transient = False

    def __init__(self, holder: str, reason: str) -> None:
        super().__init__(f"eraser for {holder}: {reason}")
        self.holder = holder
        self.reason = reason


class TransientEraserError(EraserError):
    transient = True


class TerminalEraserError(EraserError):
    pass


class ExportError(LineageError):
    """An export's destination (an OpenLineage endpoint) refused it or could not be reached:
    exit 3, like an unreachable log, unless the destination itself was given wrong."""

    exit_code = 3

    def __init__(self, message: str, exit_code: int = 3) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class EvidenceError(LineageError):
    """An evidence bundle whose signature, content or log positions do not check out."""


class NothingToDraw(LineageError):
    """A data map would be empty: an answer about the data, not bad input (exit 1)."""
