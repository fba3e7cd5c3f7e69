"""The embedded log: append-only segment files of framed Avro single-object records.

Layout of the log directory::

    META                      {"log_id", "format", "crc" (crc32 of the other fields),
                              "rewritten_from" (a compacted log: the id of the old one)}
    HEAD                      the committed end (two checksummed slots, see ``_Head``);
                              readers never read past it
    lock                      writer lock (one writing process at a time)
    00000000000000000000.seg  segments, named by the global offset of their first byte

A segment starts with an 8-byte magic; then frames::

    sync (4 bytes) | length (u32 LE) | crc32 of length+payload (u32 LE) | payload

A position is a global byte offset: segment base + offset in the file. Positions never move.

Commit protocol of ``append`` (one writer at a time, under the lock):
  1. Recover: bytes past HEAD belong to an append that never committed (a crash): cut them.
     When a HEAD slot is damaged, the end is rebuilt from the records after the intact slot
     that pass their checksums (see ``FileLog._committed``), and HEAD is rewritten.
  2. Write the frames after HEAD, rotating to a new segment when one is full.
  3. If the caller's iterator raises, truncate back to the old HEAD and delete new segments.
  4. fsync every touched segment, then write the new end into HEAD's older slot and fsync
     it. Only now is the append acknowledged.

The checksum is what makes corruption visible: most bit flips in an Avro body still decode,
into a wrong event. A frame that fails it is reported as an error entry, and reading resumes
at the next frame that passes (found by its sync marker), so one bad record hides no other.
Damaged neighbours whose framing is intact are reported one by one.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import mmap
import os
import shutil
import struct
import time
import uuid
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from itertools import pairwise
from pathlib import Path
from typing import BinaryIO

from filelock import FileLock, Timeout

from lineage.errors import (
    LineageError,
    LogBusyError,
    LogDamagedError,
    LogError,
    NoSpaceError,
    is_no_space,
)
from lineage.log.base import AppendResult, LogEntry, LogRecord

log = logging.getLogger("lineage.log")

SEGMENT_MAGIC = b"LNGSEG1\n"
SYNC = b"\xa7\x4c\x4e\x01"
FRAME = struct.Struct("<4sII")
HEADER = FRAME.size
MAX_RECORD = 16 * 1024 * 1024
DEFAULT_SEGMENT_BYTES = 256 * 1024 * 1024
_READ_CHUNK = 4 * 1024 * 1024
_RELEASE_EVERY = 32 * 1024 * 1024


def frame(payload: bytes) -> bytes:
    if len(payload) > MAX_RECORD:
        raise LogError(f"record of {len(payload)} bytes exceeds the {MAX_RECORD}-byte limit")
    length = struct.pack("<I", len(payload))
    crc = zlib.crc32(payload, zlib.crc32(length))
    return SYNC + length + struct.pack("<I", crc) + payload


def _frame_at(buf: mmap.mmap | bytes, pos: int, limit: int) -> tuple[int, bytes | None]:
    """(end, payload) of the valid frame starting at ``pos``, or (-1, None)."""
    if pos + HEADER > limit:
        return -1, None
    sync, length, crc = FRAME.unpack_from(buf, pos)
    end = pos + HEADER + length
    if sync != SYNC or length > MAX_RECORD or end > limit:
        return -1, None
    payload = buf[pos + HEADER : end]
    if zlib.crc32(payload, zlib.crc32(buf[pos + 4 : pos + 8])) != crc:
        return -1, None
    return end, payload


def _valid_frame_at(buf: mmap.mmap | bytes, pos: int, limit: int) -> int:
    return _frame_at(buf, pos, limit)[0]


class _Head:
    """The committed end, written in place: two 32-byte slots, each
    ``magic | sequence (u64) | end (u64) | crc32 of the 20 bytes before | padding``.

    A commit writes the slot the older sequence holds and fsyncs: one small write and one
    fsync, where replacing a file takes two fsyncs and a rename. A crash mid-write damages
    only that slot, and readers then take the other one as the start of a scan for the
    records a damaged newest slot may have committed (``FileLog._committed``)."""

    SLOT = struct.Struct("<4sQQI8x")
    MAGIC = b"LHD1"

    def __init__(self, path: Path) -> None:
        self.path = path

    def _slots(self, data: bytes) -> tuple[list[tuple[int, int]], int]:
        """The intact slots as (sequence, end), and how many slots are damaged (neither
        intact nor blank: a blank slot has never been written)."""
        found, damaged = [], 0
        for i in range(2):
            chunk = data[i * self.SLOT.size : (i + 1) * self.SLOT.size]
            if len(chunk) < self.SLOT.size:
                damaged += bool(chunk.strip(b"\0"))
                continue
            magic, seq, end, crc = self.SLOT.unpack(chunk)
            if magic == self.MAGIC and zlib.crc32(chunk[:20]) == crc:
                found.append((seq, end))
            elif chunk.strip(b"\0"):
                damaged += 1
        return found, damaged

    def read(self) -> tuple[int, int]:
        """(sequence, end) of the latest intact slot."""
        seq, end, _ = self.inspect()
        return seq, end

    def inspect(self) -> tuple[int, int, bool]:
        """(sequence, end, damaged): the latest intact slot, and whether a slot is damaged
        (then the newest commit may be later than the slot read; see ``FileLog``)."""
        try:
            data = self.path.read_bytes()
        except OSError as exc:
            raise LogError(f"cannot read {self.path}: {exc.strerror or exc}") from exc
        return self._parse(data)

    def _parse(self, data: bytes) -> tuple[int, int, bool]:
        if data.startswith(b"{"):  # the JSON form of earlier versions
            try:
                return 0, int(json.loads(data)["end"]), False
            except (ValueError, KeyError, TypeError) as exc:
                raise LogDamagedError(self.path, f"unreadable commit record ({exc})") from exc
        slots, damaged = self._slots(data)
        if not slots:
            raise LogDamagedError(self.path, "no intact commit record")
        seq, end = max(slots)
        return seq, end, damaged > 0

    def write(self, end: int, *, whole: bool = False) -> None:
        """Commit ``end``: one slot written in place. ``whole`` rewrites the file (new, the
        JSON form of earlier versions, or a repair of a damaged slot)."""
        data = self.path.read_bytes() if self.path.exists() else None
        seq = 0
        if data is not None:
            try:
                seq = self._parse(data)[0] + 1
            except LogError:
                if not whole:
                    raise
        body = struct.pack("<4sQQ", self.MAGIC, seq, end)
        slot = self.SLOT.pack(self.MAGIC, seq, end, zlib.crc32(body))
        if whole or data is None or data.startswith(b"{"):
            blank = bytes(self.SLOT.size)
            _write_atomic(self.path, blank + slot if seq % 2 else slot + blank)
            return
        fd = os.open(self.path, os.O_WRONLY)
        try:
            os.pwrite(fd, slot, (seq % 2) * self.SLOT.size)
            os.fsync(fd)
        finally:
            os.close(fd)


def read_head(directory: Path) -> int:
    """The committed end of the log in ``directory``."""
    return _Head(directory / "HEAD").read()[1]


def read_meta(path: Path) -> dict[str, object]:
    """META's fields, checked: a damaged META names itself and the repair."""
    try:
        meta = json.loads(path.read_bytes())
    except OSError as exc:
        raise LogError(f"cannot read {path}: {exc.strerror or exc}") from None
    except ValueError:
        raise LogDamagedError(path, "not valid JSON") from None
    if not isinstance(meta, dict) or not isinstance(meta.get("log_id"), str):
        raise LogDamagedError(path, "no log id")
    if set(meta) - _META_FIELDS:
        raise LogDamagedError(path, f"unknown field {sorted(set(meta) - _META_FIELDS)[0]!r}")
    crc = meta.pop("crc", None)  # absent in logs of earlier versions
    if crc is not None and crc != _meta_crc(meta):
        raise LogDamagedError(path, "checksum mismatch")
    return meta


_META_FIELDS = {"log_id", "format", "crc", "rewritten_from"}


def write_meta(path: Path, log_id: str, **extra: str) -> None:
    meta: dict[str, object] = {"log_id": log_id, "format": 1, **extra}
    meta["crc"] = _meta_crc(meta)
    _write_atomic(path, json.dumps(meta).encode())


def _meta_crc(meta: dict[str, object]) -> int:
    return zlib.crc32(json.dumps(meta, sort_keys=True).encode())


def _lock(directory: Path) -> FileLock:
    return FileLock(str(directory / "lock"), mode=0o600)


def _write_error(directory: Path, exc: OSError) -> LineageError:
    if is_no_space(exc):
        return NoSpaceError(directory)
    if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return LogError(f"cannot write the event log in {directory}: it is read-only")
    return LogError(f"cannot write the event log in {directory}: {exc.strerror or exc}")


def _truncate(path: Path, size: int) -> None:
    with open(path, "r+b") as fh:
        fh.truncate(size)
        fh.flush()
        os.fsync(fh.fileno())


def _good_end(data: bytes) -> int:
    """End of the last frame in ``data`` that passes its checksum (0 when none does)."""
    good = pos = 0
    while pos < len(data):
        end = _valid_frame_at(data, pos, len(data))
        if end < 0:
            pos = _resync(data, pos, len(data))
            if pos < 0:
                break
            continue
        good = pos = end
    return good


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


class FileLog:
    """The embedded log in a directory. See the module docstring for the format."""

    kind = "file"

    def __init__(
        self,
        directory: Path,
        *,
        create: bool = False,
        lock_timeout: float = 10.0,
        segment_bytes: int = DEFAULT_SEGMENT_BYTES,
    ) -> None:
        self.directory = Path(directory)
        self.lock_timeout = lock_timeout
        self.segment_bytes = segment_bytes
        self._warned_head = False
        finish_swap(self.directory)
        meta = self.directory / "META"
        if not meta.exists():
            if not create:
                if self.segments():
                    raise LogDamagedError(meta, "missing")
                raise LogError(f"no event log at {self.directory} (run `lineage init` first)")
            self._create()
        self._meta = read_meta(meta)
        self._lock = _lock(self.directory)
        self._recover_if_idle()

    # -- set-up and recovery --------------------------------------------------------------
    def _create(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        with _lock(self.directory):
            if (self.directory / "META").exists():
                return
            if self.segments():  # never start a new log over the records of an old one
                raise LogDamagedError(self.directory / "META", "missing")
            seg = self._segment_path(0)
            with open(seg, "wb") as fh:
                fh.write(SEGMENT_MAGIC)
                fh.flush()
                os.fsync(fh.fileno())
            self._write_head(len(SEGMENT_MAGIC))
            write_meta(self.directory / "META", str(uuid.uuid4()))

    @property
    def log_id(self) -> str:
        return str(self._meta["log_id"])

    def _segment_path(self, base: int) -> Path:
        return self.directory / f"{base:020d}.seg"

    def segments(self) -> list[int]:
        return sorted(int(p.stem) for p in self.directory.glob("*.seg"))

    def _read_head(self) -> int:
        end, damaged_from = self._committed(settle=True)
        if damaged_from is not None and not self._warned_head:
            self._warned_head = True
            log.warning(
                "event log: %s is damaged (its newest commit record fails its checksum); "
                "reading up to position %d, the end of the records after the intact one "
                "that pass their checksums; the next write rewrites it (or run "
                "`lineage log repair`)",
                self.directory / "HEAD",
                end,
            )
        return end

    def _committed(self, *, settle: bool = False) -> tuple[int, int | None]:
        """(end, damaged_from): the committed end and, when a HEAD slot is damaged, the end
        of the intact slot the scan started from.

        A damaged slot may have held the newest commit. Records after the intact slot's end
        that are complete and pass their own checksums are evidence that it did (frames are
        fsynced before HEAD is written), so the end is where the last of them ends: no
        acknowledged record is cut for a bad commit record. ``settle``: a reader without
        the lock may catch a writer mid-slot, so it looks again before judging."""
        head = _Head(self.directory / "HEAD")
        for attempt in range(3 if settle else 1):
            if attempt:
                time.sleep(0.01)
            _, end, damaged = head.inspect()
            if not damaged:
                return end, None
        return self._scan_end(end), end

    def _write_head(self, end: int, *, whole: bool = False) -> None:
        _Head(self.directory / "HEAD").write(end, whole=whole)

    def _recover_if_idle(self) -> None:
        """Cut a torn tail now if no writer is active (a writer recovers before it writes)."""
        try:
            self._lock.acquire(timeout=0)
        except Timeout:
            return
        except OSError:  # a read-only home: read up to the committed end, change nothing
            return
        try:
            self._recover()
        finally:
            self._lock.release()

    def _recover(self) -> None:
        head, damaged_from = self._committed()
        bases = self.segments()
        for base in bases[1:]:
            if base >= head:  # created by an append that never committed
                self._segment_path(base).unlink()
                log.warning("event log: removed uncommitted segment %020d", base)
        bases = [b for b in bases if b == bases[0] or b < head]
        last = bases[-1]
        path = self._segment_path(last)
        size = path.stat().st_size
        if last + size > head:
            _truncate(path, head - last)
            log.warning(
                "event log: cut a torn tail of %d bytes after position %d "
                "(an append that never completed)",
                last + size - head,
                head,
            )
        elif last + size < head:
            good = self._scan_end(last + len(SEGMENT_MAGIC))
            _truncate(path, good - last)
            self._write_head(good)
            log.warning(
                "event log: segment %s ends %d bytes short of the committed end %d; "
                "cut it after the last intact record at position %d",
                path.name,
                head - (last + size),
                head,
                good,
            )
        if damaged_from is not None:
            self._write_head(head, whole=True)
            log.warning(
                "event log: %s was damaged (its newest commit record failed its checksum); "
                "kept the %d bytes of records after the intact commit at position %d that "
                "pass their checksums, and rewrote it with the end %d",
                self.directory / "HEAD",
                head - damaged_from,
                damaged_from,
                head,
            )

    def _scan_end(self, start: int) -> int:
        """The end of the last record from ``start`` on that passes its checksum, across
        segment rotations. A damaged record before it stays (readers set it aside): only a
        tail that fails its checksums ends the log."""
        end = start
        for base in self.segments():
            path = self._segment_path(base)
            size = path.stat().st_size
            if base + size < end:
                continue
            if base > end or size < len(SEGMENT_MAGIC):  # not a continuation
                break
            local = max(end - base, len(SEGMENT_MAGIC))
            with open(path, "rb") as fh:
                fh.seek(local)
                good = _good_end(fh.read())
            if good:
                end = base + local + good
            if end < base + size:  # a tail that fails: nothing after it continues the log
                break
        return end

    # -- writing --------------------------------------------------------------------------
    def _acquire(self) -> None:
        try:
            self._lock.acquire(timeout=self.lock_timeout)
        except Timeout:
            raise LogBusyError(str(self.directory), self.lock_timeout) from None

    def append(self, records: Iterable[LogRecord]) -> AppendResult:
        try:
            self._acquire()
            try:
                self._recover()
                return self._append_locked(records)  # rolls itself back on any error
            finally:
                self._lock.release()
        except OSError as exc:
            raise _write_error(self.directory, exc) from None

    def _append_locked(self, records: Iterable[LogRecord]) -> AppendResult:
        start = self._read_head()
        base = self.segments()[-1]
        created: list[int] = []
        touched: list[BinaryIO] = []
        fh: BinaryIO = open(self._segment_path(base), "r+b")  # noqa: SIM115 - closed below
        touched.append(fh)
        fh.seek(start - base)
        pos = start
        count = 0
        try:
            for record in records:
                data = frame(record.value)
                if pos - base + len(data) > self.segment_bytes and pos - base > len(SEGMENT_MAGIC):
                    fh.flush()
                    base = pos
                    created.append(base)
                    fh = open(self._segment_path(base), "w+b")  # noqa: SIM115
                    touched.append(fh)
                    fh.write(SEGMENT_MAGIC)
                    pos += len(SEGMENT_MAGIC)
                fh.write(data)
                pos += len(data)
                count += 1
            for handle in touched:
                handle.flush()
                os.fsync(handle.fileno())
        except BaseException:
            for handle in touched:
                with contextlib.suppress(OSError):  # a full disk fails the flush again
                    handle.close()
            for created_base in created:
                self._segment_path(created_base).unlink(missing_ok=True)
            first = self.segments()[-1]
            with open(self._segment_path(first), "r+b") as undo:
                undo.truncate(start - first)
                undo.flush()
                os.fsync(undo.fileno())
            raise
        for handle in touched:
            handle.close()
        if created:
            _fsync_dir(self.directory)
        if count:
            self._write_head(pos)
        return AppendResult(count, {0: pos}, {0: start})

    # -- reading --------------------------------------------------------------------------
    def end_offsets(self) -> dict[int, int]:
        return {0: self._read_head()}

    def begin_offsets(self) -> dict[int, int]:
        return {0: self.segments()[0] + len(SEGMENT_MAGIC)}

    def size_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.directory.glob("*.seg"))

    def read(self, start: Mapping[int, int] | None = None) -> Iterator[LogEntry]:
        end = self._read_head()
        pos = (start or {}).get(0, self.begin_offsets()[0])
        bases = self.segments()
        for i, base in enumerate(bases):
            seg_end = bases[i + 1] if i + 1 < len(bases) else end
            seg_end = min(seg_end, end)
            if pos >= seg_end:
                continue
            pos = max(pos, base + len(SEGMENT_MAGIC))
            yield from self._read_segment(base, pos, seg_end)
            pos = seg_end

    def _read_segment(self, base: int, pos: int, end: int) -> Iterator[LogEntry]:
        path = self._segment_path(base)
        with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
            limit = min(end - base, len(mm))
            local = pos - base
            released = local - local % mmap.PAGESIZE
            while local < limit:
                if local - released >= _RELEASE_EVERY:
                    # Pages already read would stay in this process's resident set until the
                    # segment is closed (a quarter of a GiB per segment); give them back.
                    done = local - local % mmap.PAGESIZE
                    _release(mm, released, done - released)
                    released = done
                nxt, payload = _frame_at(mm, local, limit)
                if payload is not None:
                    yield LogEntry(0, base + local, base + nxt, payload)
                    local = nxt
                    continue
                resync = _resync(mm, local, limit)
                pieces = _corrupt_records(mm, local, resync if resync >= 0 else limit)
                for begin, finish in pieces:
                    if resync < 0 and finish == pieces[-1][1]:
                        finish = end - base  # nothing intact follows: resume at the end
                    yield LogEntry(
                        0,
                        base + begin,
                        base + finish,
                        None,
                        error="checksum mismatch (corrupt record)",
                    )
                if resync < 0:
                    return
                local = resync
            if base + limit < end:
                # The file is shorter than the committed end (cut by something other than us).
                yield LogEntry(
                    0, base + limit, end, None, error="segment ends before the log's end"
                )

    def close(self) -> None:
        pass

    # -- compaction -----------------------------------------------------------------------
    def compact(self, keep: Callable[[bytes], bool]) -> tuple[int, int]:
        """Rewrite the log with only the records ``keep`` accepts; (kept, dropped).

        Protocol (under the writer lock, so no append is lost):
          1. Write the kept records into a new log beside this one (``<dir>.compacted``),
             with a new ``log_id``, fsynced; then mark it ``COMPLETE``.
          2. Swap: rename this log to ``<dir>.precompact``, the new one to ``<dir>``.
          3. Delete the old log.
        A crash during 1 leaves the old log in place (the partial new one is removed on the
        next open); a crash inside 2 is finished on the next open (``finish_swap``).
        Records that fail their checksum cannot be carried over and count as dropped.
        """
        new = self.directory.with_name(self.directory.name + ".compacted")
        old = self.directory.with_name(self.directory.name + ".precompact")
        swap = _compaction_lock(self.directory)
        swap.acquire(timeout=self.lock_timeout)
        self._acquire()
        try:
            self._recover()
            if new.exists():
                shutil.rmtree(new)
            target = FileLog(new, create=True, segment_bytes=self.segment_bytes)
            # Projections of this log may start over on the new one by themselves.
            write_meta(new / "META", target.log_id, rewritten_from=self.log_id)
            counts = [0, 0]

            def kept() -> Iterator[LogRecord]:
                for entry in self.read():
                    if entry.value is not None and keep(entry.value):
                        counts[0] += 1
                        yield LogRecord(entry.value, entry.key)
                    else:
                        counts[1] += 1

            target.append(kept())
            _write_atomic(new / "COMPLETE", b"")
            # Step 2: the swap.
            os.replace(self.directory, old)
            os.replace(new, self.directory)
            _fsync_dir(self.directory.parent)
        finally:
            self._lock.release()
        try:
            shutil.rmtree(old, ignore_errors=True)
        finally:
            swap.release()
        self._meta = read_meta(self.directory / "META")
        self._lock = _lock(self.directory)
        return counts[0], counts[1]

    @property
    def rewritten_from(self) -> str | None:
        """The id of the log this one was compacted from, if it was."""
        value = self._meta.get("rewritten_from")
        return str(value) if value else None


def finish_swap(directory: Path) -> None:
    """Finish or undo a compaction that a crash interrupted (see ``FileLog.compact``)."""
    new = directory.with_name(directory.name + ".compacted")
    old = directory.with_name(directory.name + ".precompact")
    if not new.exists() and not old.exists():
        return  # the usual case
    lock = _compaction_lock(directory)
    try:
        # A live compaction holds the lock: its files are its own. Mid-swap (no log at
        # all) wait for it; it renames twice and is done.
        lock.acquire(timeout=0 if directory.exists() else 60)
    except (Timeout, OSError):
        return
    try:
        if not directory.exists():
            if (new / "COMPLETE").exists():
                os.replace(new, directory)
                log.warning("event log: finished an interrupted compaction")
            elif old.exists():
                os.replace(old, directory)
                log.warning("event log: rolled back an interrupted compaction")
            else:
                return
            _fsync_dir(directory.parent)
        if old.exists():
            shutil.rmtree(old, ignore_errors=True)
        if new.exists():
            shutil.rmtree(new, ignore_errors=True)
    finally:
        lock.release()


def _compaction_lock(directory: Path) -> FileLock:
    # Beside the log, not in it: the log directory itself is renamed by the swap.
    return FileLock(str(directory.with_name(directory.name + ".compact.lock")), mode=0o600)


def repair(directory: Path, *, log_id: str | None = None, lock_timeout: float = 10.0) -> list[str]:
    """``lineage log repair``: rebuild a damaged META or HEAD from the segments, under the
    writer lock. Returns what was done, a sentence each (nothing when nothing was damaged).
    ``log_id`` is the id for a META that lost its own (the projection's, so that it resumes).
    """
    directory = Path(directory)
    finish_swap(directory)
    bases = sorted(int(p.stem) for p in directory.glob("*.seg"))
    if not bases:
        raise LogError(f"no event log at {directory} (run `lineage init` first)")
    done = []
    lock = _lock(directory)
    try:
        lock.acquire(timeout=lock_timeout)
    except Timeout:
        raise LogBusyError(str(directory), lock_timeout) from None
    try:
        meta = directory / "META"
        try:
            read_meta(meta)
        except LogError as exc:
            if meta.exists() and not isinstance(exc, LogDamagedError):
                raise
            try:
                new_id, known = str(uuid.UUID(log_id or "")), True
            except ValueError:
                new_id, known = str(uuid.uuid4()), False
            write_meta(meta, new_id)
            done.append(
                f"rewrote {meta} with the log id its projection was built from ({new_id})"
                if known
                else f"rewrote {meta} with a new log id {new_id}: projections of this log "
                "refuse it until `lineage rebuild`"
            )
        head = _Head(directory / "HEAD")
        try:
            _, start, damaged = head.inspect()
        except LogError:  # no intact commit record, or no HEAD: every record is evidence
            start, damaged = bases[0] + len(SEGMENT_MAGIC), True
        if damaged:
            end = FileLog(directory, lock_timeout=0)._scan_end(start)
            head.write(end, whole=True)
            done.append(
                f"rebuilt {head.path} from the segments: the log ends at position {end}, "
                "after the last record that passes its checksum"
            )
    finally:
        lock.release()
    FileLog(directory, lock_timeout=lock_timeout)  # now cuts a torn tail past the end
    return done


def _corrupt_records(buf: mmap.mmap | bytes, start: int, stop: int) -> list[tuple[int, int]]:
    """Split corrupt bytes ``[start, stop)`` where the framing is still intact (a sync marker
    whose length ends exactly at a later boundary), so that two damaged neighbours are
    reported and counted as two records, not one."""
    bounds = {stop}
    pos = buf.rfind(SYNC, start + 1, stop)
    while pos > start:
        if pos + HEADER <= stop:
            length = struct.unpack_from("<I", buf, pos + 4)[0]
            if pos + HEADER + length in bounds:
                bounds.add(pos)
        pos = buf.rfind(SYNC, start + 1, pos)
    edges = [start, *sorted(bounds)]
    return list(pairwise(edges))


def _release(mm: mmap.mmap, start: int, length: int) -> None:
    """Drop read pages of a read-only mapping from the resident set (they stay in the page
    cache; touching them again faults them back in)."""
    advice = getattr(mmap, "MADV_DONTNEED", None)
    if advice is not None and length > 0:
        mm.madvise(advice, start, length)


def _resync(buf: mmap.mmap | bytes, local: int, limit: int) -> int:
    """Offset of the next valid frame after ``local``, or -1."""
    nxt = buf.find(SYNC, local + 1, limit)
    while nxt >= 0:
        if _valid_frame_at(buf, nxt, limit) >= 0:
            return nxt
        nxt = buf.find(SYNC, nxt + 1, limit)
    return -1
