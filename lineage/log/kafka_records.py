"""The reader's record parsing: kafka-python's consumer, aiokafka's record parser in C.

kafka-python parses every record of a fetched batch (message format v2) in pure Python and
wraps it in a ``ConsumerRecord``: about 5 us a record on the bench machine, most of what
reading a record costs. aiokafka ships a Cython parser of the same format, several times
faster. The reader's consumer keeps everything else of kafka-python's (fetching, positions,
``max_poll_records``, the batch checksum, control and aborted batches, the batches of the
old formats); only the records of a v2 batch are read by aiokafka's parser, and the reader
gets its record objects (``offset``, ``key``, ``value``: all it uses) instead of
``ConsumerRecord``s.

The hook is kafka-python's ``Fetcher.PartitionRecords``, which ``_parse_fetched_data`` looks
up on the fetcher instance. Where a kafka-python release no longer looks like that, the
reader keeps kafka-python's own parsing (``install`` returns False; a test pins the hook).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from kafka.consumer.fetcher import Fetcher
from kafka.errors import CorruptRecordError
from kafka.errors import UnsupportedCodecError as KafkaUnsupportedCodecError

_STOCK: Any = getattr(Fetcher, "PartitionRecords", object)  # absent: install() says so


class CRecords(_STOCK):
    """A partition's fetched records, the v2 batches' records parsed by aiokafka."""

    def _unpack_records(
        self, tp: Any, records: Any, key_deserializer: Any, value_deserializer: Any
    ) -> Iterator[Any]:
        if key_deserializer is not None or value_deserializer is not None:
            # Not the reader's consumer: kafka-python's own path, deserializers and all.
            yield from super()._unpack_records(tp, records, key_deserializer, value_deserializer)
            return
        from aiokafka.errors import CorruptRecordException, UnsupportedCodecError
        from aiokafka.record.default_records import DefaultRecordBatch

        batch = records.next_batch()
        last_batch = None
        while batch is not None:
            last_batch = batch
            # As kafka-python: the checksum of the whole batch first (C, with crc32c).
            if self.check_crcs and not batch.validate_crc():
                raise CorruptRecordError(
                    f"Record batch for partition {self.topic_partition} at offset "
                    f"{batch.base_offset} failed crc check"
                )
            if batch.magic < 2:
                # The formats before Kafka 0.11 (v0, v1): kafka-python's loop, as before.
                for record in batch:
                    if self.check_crcs and not record.validate_crc():
                        raise CorruptRecordError(
                            f"Record for partition {self.topic_partition} at offset "
                            f"{record.offset} failed crc check"
                        )
                    self.records_read += 1
                    self.bytes_read += record.size_in_bytes
                    self.next_fetch_offset = record.offset + 1
                    yield record
                batch = records.next_batch()
                continue
            self.leader_epoch = batch.leader_epoch
            # Transaction markers and aborted records are not returned (as kafka-python).
            # ``_aborted`` first: a marker ends its transaction there.
            if self._aborted(batch) or batch.is_control_batch:
                self.next_fetch_offset = batch.next_offset
                batch = records.next_batch()
                continue
            count = 0
            try:
                for record in DefaultRecordBatch(bytes(batch._buffer)):
                    count += 1
                    self.next_fetch_offset = record.offset + 1
                    yield record
            except UnsupportedCodecError as exc:  # as kafka-python says it
                raise KafkaUnsupportedCodecError(str(exc)) from None
            except (CorruptRecordException, ValueError, IndexError) as exc:
                raise CorruptRecordError(
                    f"Record batch for partition {self.topic_partition} at offset "
                    f"{batch.base_offset}: {exc}"
                ) from None
            self.records_read += count
            self.bytes_read += batch.size_in_bytes
            batch = records.next_batch()
        # Format v2 keeps the last offset of a batch whose last records were compacted away:
        # the next fetch starts after it (as kafka-python).
        if last_batch is not None and last_batch.magic == 2:
            self.next_fetch_offset = last_batch.next_offset
        self.drain()

    def _aborted(self, batch: Any) -> bool:
        """Whether a read_committed consumer skips this batch (kafka-python's bookkeeping)."""
        from kafka.consumer.fetcher import IsolationLevel

        if self.isolation_level != IsolationLevel.READ_COMMITTED or not batch.has_producer_id():
            return False
        self._consume_aborted_transactions_up_to(batch.last_offset)
        producer_id = batch.producer_id
        if self._contains_abort_marker(batch):
            self.aborted_producer_ids.discard(producer_id)
            return False
        return bool(self._is_batch_aborted(batch))


# What ``CRecords`` overrides, as kafka-python (2.1 and later) defines it.
_HOOK = ["self", "tp", "records", "key_deserializer", "value_deserializer"]


def install(consumer: Any) -> bool:
    """Make ``consumer`` parse v2 record batches with aiokafka's parser; False where this
    kafka-python's consumer has no such hook (it then parses as before)."""
    import inspect

    fetcher = getattr(consumer, "_fetcher", None)
    stock = getattr(_STOCK, "_unpack_records", None)
    if (
        fetcher is None
        or getattr(fetcher, "PartitionRecords", None) is not _STOCK
        or stock is None
        or list(inspect.signature(stock).parameters) != _HOOK
    ):
        return False
    fetcher.PartitionRecords = CRecords
    return True
