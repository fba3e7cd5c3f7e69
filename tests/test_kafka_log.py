"""The Kafka backend's own behaviour, against a real broker (see tests/kafka_broker.py): keys
and partitions, unreachable brokers, missing topics. The log contract itself runs on Kafka
with every other backend in tests/test_log_contract.py."""

from __future__ import annotations

import contextlib
import gc
import socket
import time
import warnings
from collections.abc import Callable, Iterator

import pytest

from lineage.errors import LogError, LogUnavailableError
from lineage.log.base import LogRecord
from lineage.log.kafka import KafkaLog, partition_for
from tests.kafka_broker import Broker, free_port

pytestmark = pytest.mark.kafka


def records(n: int, prefix: str = "r") -> list[LogRecord]:
    return [LogRecord(f"{prefix}{i}".encode(), f"key{i % 7}".encode()) for i in range(n)]


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


@contextlib.contextmanager
def unanswered_port() -> Iterator[tuple[str, int]]:
    """A port whose listener never answers a connect: its accept queue is full, so Linux
    drops the SYN and the connect stays under way."""
    with contextlib.ExitStack() as stack:
        server = stack.enter_context(socket.socket())
        server.bind(("127.0.0.1", 0))
        server.listen(0)
        address = server.getsockname()
        for _ in range(2):  # the first fills the queue, the second is left waiting
            filler = stack.enter_context(socket.socket())
            filler.setblocking(False)
            filler.connect_ex(address)
        yield address


def unconnected(sock: socket.socket) -> bool:
    if sock.family != socket.AF_INET:
        return False
    try:
        sock.getpeername()
    except OSError:
        return True
    return False


def test_close_leaves_no_socket_open_with_a_connect_under_way(
    make_kafka: Callable[..., KafkaLog],
) -> None:
    """kafka-python's close cancels a connect under way and drops its socket unclosed (a
    ResourceWarning whenever the collector finds it): the log closes it."""
    from kafka.net import create_connection

    log = make_kafka()
    net = log._probing()._net
    with unanswered_port() as (host, port):

        async def connecting() -> None:
            (await create_connection(net, host, port)).close()

        def under_way() -> bool:
            return any(
                isinstance(key.fileobj, socket.socket) and unconnected(key.fileobj)
                for key in list(net._selector.get_map().values())
            )

        net.call_soon_threadsafe(connecting)
        deadline = time.monotonic() + 10
        while not under_way() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert under_way(), "the connect never started"
        gc.collect()  # what earlier tests dropped is reported now, not counted below
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ResourceWarning)
            log.close()
            gc.collect()
    leaks = [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]
    # Refused connects (laddr 0.0.0.0) are kafka-python's own, ignored in pyproject.toml.
    assert [m for m in leaks if "laddr=('0.0.0.0'" not in m] == []
