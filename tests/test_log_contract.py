"""The log contract (``lineage/log/base.py``), one suite run against every backend.

A backend joins the suite by adding a ``Backend``: how to open its log, how to open the same
log again as a restarted process would, and how to get a second, distinct log. The Kafka
backend gives each test its own topic on the test broker. The contract orders entries within
a partition only, so whole reads are compared as sets of (partition, offset) entries.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from itertools import pairwise
from pathlib import Path
from typing import Protocol

import pytest

from lineage.log.base import Log, LogEntry, LogRecord
from lineage.log.file import FileLog
from lineage.log.memory import MemoryLog


class Backend(Protocol):
    def open(self) -> Log:
        """The log under test (the same log on every call)."""
        ...

    def reopen(self, log: Log) -> Log:
        """A new handle on the same log, as a restarted process would open it."""
        ...

    def other(self) -> Log:
        """A second, distinct log."""
        ...

    def close(self) -> None: ...


class MemoryBackend:
    """In-process: its durability is the process lifetime, so reopening is the same log."""

    def __init__(self, tmp_path: Path) -> None:
        self._log = MemoryLog()

    def open(self) -> Log:
        return self._log

    def reopen(self, log: Log) -> Log:
        return self._log

    def other(self) -> Log:
        return MemoryLog()

    def close(self) -> None:
        pass


class FileBackend:
    def __init__(self, tmp_path: Path, segment_bytes: int | None = None) -> None:
        self.dir = tmp_path / "log"
        self.tmp_path = tmp_path
        self.kw = {"segment_bytes": segment_bytes} if segment_bytes else {}
        self._log: FileLog | None = None

    def open(self) -> Log:
        if self._log is None:
            self._log = FileLog(self.dir, create=True, **self.kw)
        return self._log

    def reopen(self, log: Log) -> Log:
        log.close()
        self._log = FileLog(self.dir, **self.kw)
        return self._log

    def other(self) -> Log:
        return FileLog(self.tmp_path / "other-log", create=True, **self.kw)

    def close(self) -> None:
        if self._log is not None:
            self._log.close()


class KafkaBackend:
    """A real Kafka-protocol broker (tests/kafka_broker.py), a topic of 3 partitions per log:
    order holds per partition only, so the tests compare across partitions as sets."""

    def __init__(self, address: str) -> None:
        self.address = address
        self._logs: list[Log] = []
        self._log: Log | None = None
        self.topic = self._topic()

    @staticmethod
    def _topic() -> str:
        import uuid

        return f"lineage-contract-{uuid.uuid4().hex[:12]}"

    def _open(self, topic: str, create: bool) -> Log:
        from lineage.log.kafka import KafkaLog

        log = KafkaLog(self.address, topic, create=create, partitions=3, timeout=15)
        self._logs.append(log)
        return log

    def open(self) -> Log:
        if self._log is None:
            self._log = self._open(self.topic, create=True)
        return self._log

    def reopen(self, log: Log) -> Log:
        log.close()
        self._log = self._open(self.topic, create=False)
        return self._log

    def other(self) -> Log:
        return self._open(self._topic(), create=True)

    def close(self) -> None:
        for log in self._logs:
            log.close()


BACKENDS: dict[str, Callable[[Path], Backend]] = {
    "memory": MemoryBackend,
    "file": FileBackend,
    # Segments of 4 KiB: every test then crosses segment boundaries.
    "file-small-segments": lambda tmp: FileBackend(tmp, segment_bytes=4096),
}


@pytest.fixture(params=[*BACKENDS, pytest.param("kafka", marks=pytest.mark.kafka)])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    if request.param == "kafka":
        made: Backend = KafkaBackend(request.getfixturevalue("kafka_broker").address)
    else:
        made = BACKENDS[request.param](tmp_path)
    yield made
    made.close()


@pytest.fixture
def log(backend: Backend) -> Log:
    return backend.open()


# -- helpers -----------------------------------------------------------------------------------
KEYS = [f"subject-{i}".encode() for i in range(5)]


def make_records(n: int, tag: str = "r", size: int = 40) -> list[LogRecord]:
    return [
        LogRecord(f"{tag}{i:06d}:".encode() + b"x" * (size + i % 7), KEYS[i % len(KEYS)])
        for i in range(n)
    ]


def read_all(log: Log, start: dict[int, int] | None = None) -> list[LogEntry]:
    return list(log.read(start))


def by_partition(entries: Iterable[LogEntry]) -> dict[int, list[LogEntry]]:
    out: dict[int, list[LogEntry]] = {}
    for entry in entries:
        out.setdefault(entry.partition, []).append(entry)
    return out


def values(entries: Iterable[LogEntry]) -> list[bytes | None]:
    return [e.value for e in entries]


def assert_holds(log: Log, records: list[LogRecord]) -> list[LogEntry]:
    """The log holds exactly ``records``, each partition in append order."""
    entries = read_all(log)
    assert all(e.error is None for e in entries)
    assert sorted(v or b"" for v in values(entries)) == sorted(r.value for r in records)
    where = {e.value: e.partition for e in entries}
    for partition, got in by_partition(entries).items():
        expected = [r.value for r in records if where[r.value] == partition]
        assert values(got) == expected
    for key in {r.key for r in records}:  # one key, one partition: per-subject order holds
        assert len({where[r.value] for r in records if r.key == key}) == 1
    return entries


def after(entries: list[LogEntry], cut: int) -> tuple[dict[int, int], list[LogEntry]]:
    """Positions after the first ``cut`` entries read, and the entries beyond them."""
    positions: dict[int, int] = {}
    for entry in entries[:cut]:
        positions[entry.partition] = entry.next_offset
    rest = [e for e in entries if e.offset >= positions.get(e.partition, -1)]
    return positions, rest


def key(entry: LogEntry) -> tuple[int, int]:
    return entry.partition, entry.offset


def same(a: Iterable[LogEntry], b: Iterable[LogEntry]) -> bool:
    """The same entries; across partitions a read may interleave them differently."""
    return sorted(a, key=key) == sorted(b, key=key)


class Boom(Exception):
    pass


def failing(records: list[LogRecord], exc: BaseException) -> Iterator[LogRecord]:
    yield from records
    raise exc


# -- the contract ------------------------------------------------------------------------------
def test_new_log_is_empty(log: Log) -> None:
    assert read_all(log) == []
    begins = log.begin_offsets()
    for partition, end in log.end_offsets().items():
        assert end == begins.get(partition, 0)


def test_append_then_read_in_order(log: Log) -> None:
    records = make_records(200)
    result = log.append(records)
    assert result.count == 200
    assert_holds(log, records)


def test_append_accepts_a_generator(log: Log) -> None:
    records = make_records(30)
    assert log.append(r for r in records).count == 30
    assert_holds(log, records)


def test_records_of_any_size(log: Log) -> None:
    records = [LogRecord(b"", KEYS[0]), LogRecord(b"\x00" * 3, KEYS[1])]
    records += [LogRecord(bytes(range(256)) * 400, KEYS[2]), LogRecord(b"last", KEYS[0])]
    log.append(records)
    assert_holds(log, records)


def test_append_result_names_the_end(log: Log) -> None:
    result = log.append(make_records(50))
    ends = log.end_offsets()
    assert result.end and all(ends[p] == offset for p, offset in result.end.items())
    last = {p: got[-1].next_offset for p, got in by_partition(read_all(log)).items()}
    assert last == {p: ends[p] for p in last}


def test_ends_follow_appends_from_one_call_to_the_next(log: Log) -> None:
    # Kafka: each probe leaves fetches past the record it probed; the next probe must not
    # take their (older) high watermarks for the ends.
    for _ in range(3):
        result = log.append(make_records(40))
        ends = log.end_offsets()
        assert result.end and all(ends[p] == offset for p, offset in result.end.items())
        assert log.end_offsets() == ends


def test_next_offset_is_where_a_reader_resumes(log: Log) -> None:
    log.append(make_records(120))
    for partition, got in by_partition(read_all(log)).items():
        for entry, following in pairwise(got):
            # Not always equal: a file segment's header may lie between two records.
            assert entry.offset < entry.next_offset <= following.offset
            resumed = log.read({partition: entry.next_offset})
            assert next(e for e in resumed if e.partition == partition) == following


def test_read_from_a_position(log: Log) -> None:
    log.append(make_records(150))
    entries = read_all(log)
    for cut in (0, 1, 2, 75, 149, 150):
        positions, rest = after(entries, cut)
        got = read_all(log, positions)
        assert sorted(got, key=key) == sorted(rest, key=key)
        assert len(got) == 150 - cut


def test_read_from_the_end_yields_nothing(log: Log) -> None:
    log.append(make_records(10))
    assert read_all(log, log.end_offsets()) == []


def test_rereading_yields_the_same_entries(log: Log) -> None:
    log.append(make_records(80))
    first = read_all(log)
    assert same(read_all(log), first)
    positions, _ = after(first, 33)
    assert same(read_all(log, positions), read_all(log, positions))


def test_appends_follow_each_other(log: Log) -> None:
    one, two = make_records(40, "a"), make_records(25, "b")
    end = log.append(one).end
    log.append(two)
    assert_holds(log, one + two)
    assert sorted(values(read_all(log, end))) == sorted(r.value for r in two)


def test_empty_append_changes_nothing(log: Log) -> None:
    log.append(make_records(5))
    before, ends = read_all(log), log.end_offsets()
    assert log.append([]).count == 0
    assert same(read_all(log), before) and log.end_offsets() == ends


def test_read_stops_at_the_end_committed_when_it_began(log: Log) -> None:
    log.append(make_records(20, "a"))
    reader = log.read()
    first = next(reader)
    log.append(make_records(20, "b"))
    rest = list(reader)
    assert len([first, *rest]) == 20
    assert all((e.value or b"").startswith(b"a") for e in rest)
    assert len(read_all(log)) == 40


@pytest.mark.parametrize("exc", [Boom("connector died"), KeyboardInterrupt()])
def test_append_is_all_or_nothing_when_the_iterator_raises(
    backend: Backend, log: Log, exc: BaseException
) -> None:
    kept = make_records(30, "kept")
    log.append(kept)
    before, ends, size = read_all(log), log.end_offsets(), log.size_bytes()

    with pytest.raises(type(exc)):
        log.append(failing(make_records(300, "lost", size=100), exc))

    assert same(read_all(log), before)
    assert log.end_offsets() == ends
    assert log.size_bytes() == size
    later = make_records(10, "later")
    log.append(later)
    assert_holds(log, kept + later)
    assert_holds(backend.reopen(log), kept + later)


def test_durable_across_reopen(backend: Backend, log: Log) -> None:
    one = make_records(60, "a")
    log.append(one)
    entries, ends, log_id = read_all(log), log.end_offsets(), log.log_id

    again = backend.reopen(log)
    assert again.log_id == log_id
    assert again.end_offsets() == ends
    assert same(read_all(again), entries)

    two = make_records(15, "b")
    again.append(two)
    assert_holds(again, one + two)
    assert sorted(values(read_all(again, ends))) == sorted(r.value for r in two)
    assert same(read_all(backend.reopen(again)), read_all(again))


def test_log_id_is_stable_and_names_one_log(backend: Backend, log: Log) -> None:
    log_id = log.log_id
    assert isinstance(log_id, str) and log_id
    log.append(make_records(3))
    assert log.log_id == log_id
    assert backend.reopen(log).log_id == log_id
    other = backend.other()
    try:
        assert other.log_id != log_id
    finally:
        other.close()


def test_size_grows_with_appends(log: Log) -> None:
    empty = log.size_bytes()
    log.append(make_records(20, size=200))
    if empty == -1:  # the backend cannot tell (Kafka): it must say so consistently
        assert log.size_bytes() == -1
        return
    assert log.size_bytes() >= empty + 20 * 200
