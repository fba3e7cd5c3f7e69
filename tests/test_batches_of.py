"""Batches filled from lists of records (a Kafka fetch at a time) are the batches that taking
the same records one by one fills: same sizes, same records, same positions."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from lineage.codec import default_codec
from lineage.codec.arrow import batch_row_type
from lineage.log.base import LogEntry
from lineage.projection.batch import Batch, batches_of

ROW_TYPE = batch_row_type(default_codec())


def _chunks(lengths: list[tuple[int, int]]) -> list[list[LogEntry]]:
    """Lists of one partition each, offsets counting up per partition."""
    next_offset: dict[int, int] = {}
    out = []
    for partition, length in lengths:
        start = next_offset.get(partition, 0)
        out.append(
            [LogEntry(partition, o, o + 1, b"x", None) for o in range(start, start + length)]
        )
        next_offset[partition] = start + length
    return out


def _one_by_one(chunks: list[list[LogEntry]], size: int) -> list[Batch]:
    out, batch = [], Batch(ROW_TYPE)
    for entry in (e for chunk in chunks for e in chunk):
        batch.take(entry)
        if batch.size >= size:
            out.append(batch)
            batch = Batch(ROW_TYPE)
    if batch.size:
        out.append(batch)
    return out


def _shape(batch: Batch) -> tuple[object, ...]:
    return batch.size, batch.pending, batch.positions, batch._last


@given(
    lengths=st.lists(st.tuples(st.integers(0, 3), st.integers(1, 40)), max_size=12),
    size=st.integers(1, 60),
)
def test_batches_of_lists_match_taking_records_one_by_one(
    lengths: list[tuple[int, int]], size: int
) -> None:
    chunks = _chunks(lengths)
    got = list(batches_of(chunks, size, lambda: Batch(ROW_TYPE)))
    assert [_shape(b) for b in got] == [_shape(b) for b in _one_by_one(chunks, size)]
