"""The embedded log's commit record (HEAD): two checksummed slots written in place."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lineage.errors import LogDamagedError, LogError
from lineage.log.base import LogRecord
from lineage.log.file import FileLog, frame, read_head


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


def _damage_newest_slot(log: FileLog, byte: int = 12, mask: int = 0xFF) -> None:
    head = log.directory / "HEAD"
    data = bytearray(head.read_bytes())
    seqs = [int.from_bytes(data[i + 4 : i + 12], "little") for i in (0, 32)]
    newest = 0 if seqs[0] > seqs[1] else 32
    data[newest + byte] ^= mask
    head.write_bytes(bytes(data))


def test_a_damaged_newest_slot_keeps_the_records_it_committed(tmp_path: Path) -> None:
    log = _log(tmp_path)
    first = log.append([LogRecord(b"first")]).end[0]
    second = log.append([LogRecord(b"second"), LogRecord(b"third")]).end[0]
    _damage_newest_slot(log)  # a crash in the middle of writing that slot, or a bad bit
    assert read_head(log.directory) == first < second
    # The records after the intact slot are complete and pass their checksums: kept.
    reopened = FileLog(log.directory)
    assert [e.value for e in reopened.read()] == [b"first", b"second", b"third"]
    assert read_head(log.directory) == second, "the writer rewrote HEAD"
    assert reopened.append([LogRecord(b"fourth")]).end[0] > second


def test_a_damaged_slot_keeps_complete_records_and_cuts_a_torn_one(tmp_path: Path) -> None:
    log = _log(tmp_path)
    log.append([LogRecord(b"first")])
    second = log.append([LogRecord(b"second")]).end[0]
    with open(log.directory / f"{0:020d}.seg", "ab") as fh:
        fh.write(frame(b"never acknowledged")[:-3])  # torn: fails its checksum
    _damage_newest_slot(log, byte=5, mask=0x01)
    reopened = FileLog(log.directory)
    assert [e.value for e in reopened.read()] == [b"first", b"second"]
    assert (log.directory / f"{0:020d}.seg").stat().st_size == second


def test_a_damaged_slot_follows_the_records_into_a_new_segment(tmp_path: Path) -> None:
    log = FileLog(tmp_path / "log", create=True, segment_bytes=64)
    log.append([LogRecord(b"a" * 30)])
    log.append([LogRecord(b"b" * 30), LogRecord(b"c" * 30)])  # rotates
    assert len(log.segments()) > 1
    _damage_newest_slot(log)
    assert [e.value for e in FileLog(log.directory).read()] == [b"a" * 30, b"b" * 30, b"c" * 30]


def test_a_head_with_no_intact_slot_is_a_clear_error(tmp_path: Path) -> None:
    log = _log(tmp_path)
    (log.directory / "HEAD").write_bytes(b"\x00" * 64)
    with pytest.raises(LogError, match=r"HEAD is damaged \(no intact commit record\): run"):
        FileLog(log.directory)


def test_every_single_bit_flip_in_head_keeps_every_record(tmp_path: Path) -> None:
    log = _log(tmp_path / "template")
    values = [f"record {i}".encode() for i in range(6)]
    for value in values:
        log.append([LogRecord(value)])
    original = (log.directory / "HEAD").read_bytes()
    for bit in range(len(original) * 8):
        data = bytearray(original)
        data[bit // 8] ^= 1 << (bit % 8)
        (log.directory / "HEAD").write_bytes(bytes(data))
        try:
            reopened = FileLog(log.directory)
        except LogError:  # both slots unreadable: never the case for one bit
            pytest.fail(f"bit {bit}: the log did not open")
        assert [e.value for e in reopened.read()] == values, f"bit {bit}"
        assert read_head(log.directory) == read_head(log.directory) > 0


def test_every_single_bit_flip_in_meta_is_detected_or_harmless(tmp_path: Path) -> None:
    log = _log(tmp_path)
    meta = log.directory / "META"
    original = meta.read_bytes()
    detected = 0
    for bit in range(len(original) * 8):
        data = bytearray(original)
        data[bit // 8] ^= 1 << (bit % 8)
        meta.write_bytes(bytes(data))
        try:
            assert FileLog(log.directory).log_id == log.log_id, f"bit {bit} changed the id"
        except LogDamagedError as exc:
            detected += 1
            assert "META" in str(exc) and "lineage log repair" in str(exc)
    assert detected >= len(original) * 8 - 16  # only insignificant JSON whitespace may pass


def test_the_json_head_of_earlier_versions_still_reads(tmp_path: Path) -> None:
    log = _log(tmp_path)
    end = log.append([LogRecord(b"kept")]).end[0]
    (log.directory / "HEAD").write_text(json.dumps({"end": end}))
    again = FileLog(log.directory)
    assert [e.value for e in again.read()] == [b"kept"]
    assert again.append([LogRecord(b"next")]).end[0] > end
    data = (log.directory / "HEAD").read_bytes()
    assert len(data) == 64 and b"LHD1" in (data[:4], data[32:36])
