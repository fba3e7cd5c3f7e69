"""The reader's record parsing (lineage/log/kafka_records.py): aiokafka's parser gives what
kafka-python's own gives, record for record, for every shape of record and batch; a damaged
batch is refused as kafka-python refuses it."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka import codec as kafka_codec
from kafka.consumer.fetcher import Fetcher
from kafka.errors import CorruptRecordError, UnsupportedCodecError
from kafka.record.default_records import DefaultRecordBatch, DefaultRecordBatchBuilder
from kafka.record.memory_records import MemoryRecords
from kafka.record.util import calc_crc32c

from lineage.log.base import LogRecord
from lineage.log.kafka import KafkaLog
from lineage.log.kafka_records import CRecords, install
from tests.kafka_broker import Broker

TP = TopicPartition("t", 0)


def batch_bytes(values: list[tuple[bytes | None, bytes | None, list[Any]]], base: int = 0) -> bytes:
    builder = DefaultRecordBatchBuilder(
        magic=2,
        compression_type=0,
        is_transactional=False,
        producer_id=-1,
        producer_epoch=-1,
        base_sequence=-1,
        batch_size=1 << 20,
    )
    for i, (key, value, headers) in enumerate(values):
        builder.append(i, timestamp=1_700_000_000_000 + i, key=key, value=value, headers=headers)
    data = bytearray(builder.build())
    data[0:8] = base.to_bytes(8, "big")  # the base offset, outside the checksummed part
    return bytes(data)


def shapes(rng: random.Random, n: int) -> list[tuple[bytes | None, bytes | None, list[Any]]]:
    """Records of every shape the format allows: null and empty keys and values, headers."""
    out: list[tuple[bytes | None, bytes | None, list[Any]]] = []
    for _ in range(n):
        key = rng.choice([None, b"", rng.randbytes(rng.randint(1, 40))])
        value = rng.choice([None, b"", rng.randbytes(rng.randint(1, 3000))])
        headers: list[Any] = rng.choice([[], [("h", b"v")], [("a", None), ("b", rng.randbytes(5))]])
        out.append((key, value, headers))
    return out


def parsed(cls: Any, data: bytes, fetch_offset: int = 0, **kw: Any) -> Iterator[Any]:
    part = cls(fetch_offset, TP, MemoryRecords(data), **kw)
    while part:
        got = part.take(7)  # several takes per batch, as a bounded poll does
        if not got:
            break
        yield from ((r.offset, r.key, r.value, list(r.headers)) for r in got)
        assert part.next_fetch_offset == got[-1].offset + 1


@pytest.mark.parametrize("seed", range(5))
def test_same_records_as_kafka_pythons_parser(seed: int) -> None:
    rng = random.Random(seed)
    data = b"".join(
        batch_bytes(shapes(rng, size), base)
        for base, size in ((0, 30), (30, 1), (31, 50), (81, 12))
    )
    stock = list(parsed(Fetcher.PartitionRecords, data))
    assert len(stock) == 93
    assert list(parsed(CRecords, data)) == stock
    # From an offset inside a batch: the records before it are skipped, as kafka-python does.
    start = rng.randint(1, 92)
    assert list(parsed(CRecords, data, start)) == stock[start:]


def test_a_damaged_batch_is_refused() -> None:
    data = bytearray(batch_bytes([(b"k", b"value %d" % i, []) for i in range(20)]))
    data[-5] ^= 0x10  # one bit of the last record's value
    with pytest.raises(CorruptRecordError, match="crc"):
        list(parsed(CRecords, bytes(data)))
    # Without the checksum (check_crcs=False) a damaged structure is still an error.
    cut = bytearray(batch_bytes([(b"k", b"v" * 50, []) for _ in range(3)]))
    cut[-58] = 0x7E  # the last record's length (57 bytes, one varint byte) becomes 63
    for cls in (Fetcher.PartitionRecords, CRecords):
        with pytest.raises(CorruptRecordError):
            list(parsed(cls, bytes(cut), check_crcs=False))


def test_a_codec_neither_client_has_is_kafka_pythons_error() -> None:
    """A batch compressed with snappy (whose library neither client has here): the same
    error as kafka-python's, not a corrupt record."""
    if kafka_codec.has_snappy():
        pytest.skip("a snappy library is installed")
    data = bytearray(batch_bytes([(b"k", b"v", [])]))
    at = DefaultRecordBatch.ATTRIBUTES_OFFSET
    data[at + 1] |= DefaultRecordBatch.CODEC_SNAPPY  # the codec bits of the attributes
    crc = DefaultRecordBatch.CRC_OFFSET
    data[crc : crc + 4] = calc_crc32c(memoryview(data)[at:]).to_bytes(4, "big")
    for cls in (Fetcher.PartitionRecords, CRecords):
        with pytest.raises(UnsupportedCodecError):
            list(parsed(cls, bytes(data)))


def test_no_hook_no_change() -> None:
    """A consumer without kafka-python's hook (another release) keeps its own parsing."""
    assert not install(SimpleNamespace())
    other = SimpleNamespace(_fetcher=SimpleNamespace(PartitionRecords=object))
    assert not install(other)
    assert other._fetcher.PartitionRecords is object


@pytest.mark.kafka
def test_reader_parses_in_c_and_reads_what_kafka_python_reads(
    kafka_broker: Broker, kafka_topic: str
) -> None:
    """Through a broker: gzip-compressed and plain batches, bounded polls, every record
    the same as a stock consumer's."""
    rng = random.Random(7)
    plain = KafkaLog(kafka_broker.address, kafka_topic, create=True, partitions=2, timeout=10)
    try:
        plain.append(LogRecord(rng.randbytes(rng.randint(0, 500)), b"k%d" % i) for i in range(300))
        gz = KafkaProducer(bootstrap_servers=kafka_broker.address, compression_type="gzip")
        for i in range(300):
            gz.send(kafka_topic, key=b"z%d" % i, value=None if i % 50 == 0 else b"g%d" % i)
        gz.flush()
        gz.close()

        def drain(consumer: KafkaConsumer) -> list[tuple[int, int, Any, Any]]:
            tps = [TopicPartition(kafka_topic, p) for p in (0, 1)]
            consumer.assign(tps)
            consumer.seek_to_beginning()
            out: list[tuple[int, int, Any, Any]] = []
            deadline = time.monotonic() + 30
            while len(out) < 600 and time.monotonic() < deadline:  # (Tansu's end offsets lag)
                for tp, msgs in consumer.poll(timeout_ms=1000).items():
                    out += [(tp.partition, m.offset, m.key, m.value) for m in msgs]
            consumer.close()
            return sorted(out)

        def consumer() -> KafkaConsumer:
            return KafkaConsumer(bootstrap_servers=kafka_broker.address, max_poll_records=13)

        stock = drain(consumer())
        fast = consumer()
        assert install(fast)
        assert drain(fast) == stock and len(stock) == 600
        # The log's reader takes that path (an upgrade of kafka-python that loses the hook
        # fails here, not silently slower).
        entries = list(plain.read())
        assert plain._reader._fetcher.PartitionRecords is CRecords
        assert sorted((e.partition, e.offset, e.key, e.value) for e in entries) == stock
    finally:
        plain.close()
