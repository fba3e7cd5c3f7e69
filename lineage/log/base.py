"""The log contract, shared by every backend (memory, file, Kafka).

- ``append(records)`` is all-or-nothing and durable on return: if iterating ``records``
  raises, nothing of them is visible to any reader, ever; when it returns, every record
  survives a crash of this process (fsync, or the broker's acknowledgement).
- ``read(start)`` yields entries in append order within a partition, from the given
  positions (``{partition: offset}``, missing partitions from their beginning) up to the end
  committed when the call began. Each entry's ``next_offset`` is where a reader resumes.
- Positions are stable: re-reading from a position yields the same entries.
- A record that fails its integrity check is yielded with ``value=None`` and ``error`` set,
  never as data: the reader decides to set it aside.
- ``log_id`` names this log; a projection built from another log must not resume on it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple, Protocol, runtime_checkable


@dataclass(frozen=True, slots=True)
class LogRecord:
    value: bytes
    key: bytes | None = None


class LogEntry(NamedTuple):
    """One record read back. A NamedTuple: readers create millions of these."""

    partition: int
    offset: int
    next_offset: int
    value: bytes | None
    key: bytes | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class AppendResult:
    count: int
    # {partition: offset after the last appended record}
    end: dict[int, int]


def pending(log: Log, positions: Mapping[int, int]) -> int:
    """What ``log`` holds beyond ``positions`` (bytes or records, per backend): no reading."""
    begins = log.begin_offsets()
    return sum(
        max(0, end - positions.get(p, begins.get(p, 0))) for p, end in log.end_offsets().items()
    )


class Log(Protocol):
    @property
    def log_id(self) -> str: ...

    @property
    def kind(self) -> str: ...

    def append(self, records: Iterable[LogRecord]) -> AppendResult: ...

    def read(self, start: Mapping[int, int] | None = None) -> Iterator[LogEntry]: ...

    def end_offsets(self) -> dict[int, int]: ...

    def begin_offsets(self) -> dict[int, int]: ...

    def size_bytes(self) -> int:
        """Bytes the log holds, or -1 when the backend cannot tell."""
        ...

    def close(self) -> None: ...


class DeadLetter(NamedTuple):
    """A record the projector could not use, on its way to the dead-letter topic."""

    partition: int
    offset: int
    reason: str
    value: bytes | None
    key: bytes | None = None


class DeadLetterRecord(NamedTuple):
    """A dead letter read back: where it came from and why it was set aside."""

    topic: str
    partition: int
    offset: int
    reason: str
    size: int
    timestamp_ms: int


@runtime_checkable
class DeadLetterLog(Protocol):
    """A log with a dead-letter destination of its own (Kafka: ``<topic>.dlq``)."""

    def send_dead_letters(self, letters: Sequence[DeadLetter]) -> None: ...

    def dead_letters(self) -> list[DeadLetterRecord]: ...


@runtime_checkable
class RewrittenLog(Protocol):
    """A log that may have been rewritten from another (the file log's compaction): a
    projection of the old one can start over on it by itself."""

    @property
    def rewritten_from(self) -> str | None: ...
