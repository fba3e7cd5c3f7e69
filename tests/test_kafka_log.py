"""The log contract on the Kafka backend, against a real broker (see tests/kafka_broker.py).

``check_contract`` holds the backend-neutral checks; the Kafka-only behaviour (keys and
partitions, unreachable brokers, missing topics) follows it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest

from lineage.errors import LogError, LogUnavailableError
from lineage.log.base import Log, LogRecord
from lineage.log.kafka import KafkaLog, partition_for
from tests.kafka_broker import Broker, free_port

pytestmark = pytest.mark.kafka


def records(n: int, prefix: str = "r") -> list[LogRecord]:
    return [LogRecord(f"{prefix}{i}".encode(), f"key{i % 7}".encode()) for i in range(n)]


def check_contract(make: Callable[[], Log]) -> None:
    """The contract of lineage.log.base, for any backend ``make`` opens (the same log each time)."""
    log = make()
    begins = log.begin_offsets()
    assert log.end_offsets() == begins
    assert list(log.read()) == []

    # append returns where each partition now ends; read yields everything, per partition in order
    first = log.append(records(30, "a"))
    assert first.count == 30
    ends = log.end_offsets()
    for p, end in first.end.items():
        assert ends[p] == end
    entries = list(log.read())
    assert sorted(e.value for e in entries if e.value) == sorted(r.value for r in records(30, "a"))
    by_partition: dict[int, list[int]] = {}
    for e in entries:
        by_partition.setdefault(e.partition, []).append(e.offset)
        assert e.next_offset > e.offset and e.error is None
    for offsets in by_partition.values():
        assert offsets == sorted(offsets)
    # append order within a partition is kept (one key -> one partition)
    key0 = [e.value for e in entries if e.key == b"key0"]
    assert key0 == [r.value for r in records(30, "a") if r.key == b"key0"]

    # all-or-nothing: a failing iterator appends nothing
    def failing() -> Iterator[LogRecord]:
        yield LogRecord(b"never", b"key1")
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        log.append(failing())
    assert log.end_offsets() == ends

    # resuming from positions yields exactly what follows them; re-reading is stable
    middle = {e.partition: e.next_offset for e in entries[:10]}
    later = log.append(records(5, "b"))
    assert later.count == 5
    resumed = list(log.read(middle))
    skipped = {(e.partition, e.offset) for e in entries[:10]}
    expected = [e for e in entries if (e.partition, e.offset) not in skipped]
    assert {(e.partition, e.offset, e.value) for e in expected} <= {
        (e.partition, e.offset, e.value) for e in resumed
    }
    assert len(resumed) == len(expected) + 5
    assert list(log.read(middle)) == resumed

    # durable: another instance (new connections) sees the same records and the same id
    log_id = log.log_id
    log.close()
    again = make()
    try:
        assert again.log_id == log_id
        assert list(again.read()) == list(make_and_read(make))
        assert len(list(again.read())) == 35
    finally:
        again.close()


def make_and_read(make: Callable[[], Log]) -> list[object]:
    log = make()
    try:
        return list(log.read())
    finally:
        log.close()


@pytest.fixture
def make_kafka(kafka_broker: Broker, kafka_topic: str) -> Callable[..., KafkaLog]:
    opened: list[KafkaLog] = []

    def make(**kw: object) -> KafkaLog:
        log = KafkaLog(
            kafka_broker.address, kafka_topic, create=True, partitions=4, timeout=10, **kw
        )  # type: ignore[arg-type]
        opened.append(log)
        return log

    yield make  # type: ignore[misc]
    for log in opened:
        log.close()


def test_kafka_log_meets_the_contract(make_kafka: Callable[..., KafkaLog]) -> None:
    check_contract(make_kafka)


def test_read_stops_at_the_end_captured_when_it_began(make_kafka: Callable[..., KafkaLog]) -> None:
    log = make_kafka()
    log.append(records(20))
    reading = log.read()
    got = [next(reading)]
    log.append(records(20, "late"))
    got.extend(reading)
    assert len(got) == 20 and not any(e.value and e.value.startswith(b"late") for e in got)
    assert len(list(log.read())) == 40


def test_key_decides_the_partition_like_the_producer(make_kafka: Callable[..., KafkaLog]) -> None:
    log = make_kafka()
    keys = [f"subject-{i}".encode() for i in range(40)]
    log.append(LogRecord(k, k) for k in keys)
    placed = {e.key: e.partition for e in log.read()}
    assert placed == {k: partition_for(k, 4) for k in keys}
    assert len(set(placed.values())) == 4


def test_partition_selection_reads_only_owned_partitions(
    make_kafka: Callable[..., KafkaLog],
) -> None:
    writer = make_kafka()
    writer.append(records(40))
    odd = make_kafka(select=lambda total: [p for p in range(total) if p % 2])
    assert set(odd.end_offsets()) == {1, 3}
    got = list(odd.read())
    assert got and {e.partition for e in got} <= {1, 3}
    assert len(got) == sum(1 for e in writer.read() if e.partition % 2)


def test_topics_differ_in_log_id(kafka_broker: Broker, kafka_topic: str) -> None:
    a = KafkaLog(kafka_broker.address, kafka_topic, create=True, partitions=1, timeout=10)
    b = KafkaLog(kafka_broker.address, kafka_topic + "-b", create=True, partitions=1, timeout=10)
    try:
        assert a.log_id != b.log_id and kafka_topic in a.log_id
    finally:
        a.close()
        b.close()


def test_missing_topic_is_a_clear_error(kafka_broker: Broker, kafka_topic: str) -> None:
    with pytest.raises(LogError, match="does not exist"):
        KafkaLog(kafka_broker.address, kafka_topic + "-missing", timeout=5)


def test_unreachable_broker_fails_within_the_timeout() -> None:
    started = time.monotonic()
    with pytest.raises(LogUnavailableError, match="cannot reach Kafka"):
        KafkaLog(f"127.0.0.1:{free_port()}", "anything", timeout=2)
    assert time.monotonic() - started < 10
