"""The embedded log's commit record (HEAD): two checksummed slots written in place."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lineage.errors import LogError
from lineage.log.base import LogRecord
from lineage.log.file import FileLog, read_head


def _log(tmp_path: Path) -> FileLog:
    return FileLog(tmp_path / "log", create=True)


def test_each_commit_moves_the_end_and_alternates_slots(tmp_path: Path) -> None:
    log = _log(tmp_path)
    ends = []
    for i in range(4):
        ends.append(log.append([LogRecord(b"x" * (i + 1))]).end[0])
        assert read_head(log.directory) == ends[-1]
    data = (log.directory / "HEAD").read_bytes()
    assert len(data) == 64 and data[:4] == data[32:36] == b"LHD1"


def test_a_torn_newest_slot_falls_back_to_the_previous_commit(tmp_path: Path) -> None:
    log = _log(tmp_path)
    first = log.append([LogRecord(b"first")]).end[0]
    second = log.append([LogRecord(b"second")]).end[0]
    head = log.directory / "HEAD"
    data = bytearray(head.read_bytes())
    seqs = [int.from_bytes(data[i + 4 : i + 12], "little") for i in (0, 32)]
    newest = 0 if seqs[0] > seqs[1] else 32
    data[newest + 12] ^= 0xFF  # a crash in the middle of writing that slot
    head.write_bytes(bytes(data))
    assert read_head(log.directory) == first < second
    # Reopening treats the second append as never committed: its bytes are cut.
    reopened = FileLog(log.directory)
    assert [e.value for e in reopened.read()] == [b"first"]
    assert reopened.append([LogRecord(b"third")]).end[0] > first


def test_a_head_with_no_intact_slot_is_a_clear_error(tmp_path: Path) -> None:
    log = _log(tmp_path)
    (log.directory / "HEAD").write_bytes(b"\x00" * 64)
    with pytest.raises(LogError, match="HEAD is damaged: no intact commit record"):
        FileLog(log.directory)


def test_the_json_head_of_earlier_versions_still_reads(tmp_path: Path) -> None:
    log = _log(tmp_path)
    end = log.append([LogRecord(b"kept")]).end[0]
    (log.directory / "HEAD").write_text(json.dumps({"end": end}))
    again = FileLog(log.directory)
    assert [e.value for e in again.read()] == [b"kept"]
    assert again.append([LogRecord(b"next")]).end[0] > end
    assert (log.directory / "HEAD").read_bytes()[:4] == b"LHD1"
