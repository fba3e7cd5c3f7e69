"""Reading a long segment gives its read pages back and still yields every record."""

from __future__ import annotations

from pathlib import Path

import pytest

import lineage.log.file as file_log
from lineage.log.base import LogRecord
from lineage.log.file import FileLog


def test_read_releases_pages_and_loses_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = FileLog(tmp_path / "log", create=True)
    values = [bytes([i % 251]) * (100 + i % 900) for i in range(3000)]
    log.append(LogRecord(v) for v in values)
    monkeypatch.setattr(file_log, "_RELEASE_EVERY", 3 * 4096)
    entries = list(log.read())
    assert [e.value for e in entries] == values
    middle = entries[1500]
    assert [e.value for e in log.read({0: middle.offset})] == values[1500:]
