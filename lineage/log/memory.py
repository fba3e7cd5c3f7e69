"""An in-process log: the reference implementation of the contract, for tests."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator, Mapping

from lineage.log.base import AppendResult, LogEntry, LogRecord


class MemoryLog:
    kind = "memory"

    def __init__(self) -> None:
        self._records: list[LogRecord] = []
        self._id = str(uuid.uuid4())

    @property
    def log_id(self) -> str:
        return self._id

    def append(self, records: Iterable[LogRecord]) -> AppendResult:
        staged = list(records)  # all-or-nothing: a failing iterator appends nothing
        start = len(self._records)
        self._records.extend(staged)
        return AppendResult(len(staged), {0: len(self._records)}, {0: start})

    def read(self, start: Mapping[int, int] | None = None) -> Iterator[LogEntry]:
        begin = (start or {}).get(0, 0)
        end = len(self._records)
        for offset in range(begin, end):
            rec = self._records[offset]
            yield LogEntry(0, offset, offset + 1, rec.value, rec.key)

    def end_offsets(self) -> dict[int, int]:
        return {0: len(self._records)}

    def begin_offsets(self) -> dict[int, int]:
        return {0: 0}

    def size_bytes(self) -> int:
        return sum(len(r.value) for r in self._records)

    def close(self) -> None:
        pass
