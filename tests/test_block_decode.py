"""Decoding in blocks (``lineage.codec.blocks``, used by the projector for large chunks) gives
the same rows and sets aside the same records, with the same reasons, as decoding one record
at a time."""

from __future__ import annotations

import uuid
from dataclasses import fields, replace
from typing import Any

import pyarrow as pa
import pytest

from lineage.codec import default_codec
from lineage.codec.arrow import batch_row_type
from lineage.events.model import EVENT_TYPES, Event, body_fields
from lineage.events.taxonomy import default_taxonomy
from lineage.log.base import LogEntry
from lineage.projection.batch import BLOCK_MIN, CHUNK_ROWS, Batch, Decoder
from tests.golden.make_golden import GOLDEN_EVENTS, LEGACY_EVENTS, golden_path

CODEC = default_codec()
ROW_TYPE = batch_row_type(CODEC)


def _variants(event: Event) -> list[Event]:
    """The event with every optional field set, and with each one left out in turn."""
    out = [event]
    for f in fields(event):
        if f.name in body_fields(type(event)) and f.default is None:
            out.append(replace(event, **{f.name: None}))  # type: ignore[arg-type]
    return out


def _records(count: int) -> list[bytes]:
    variants = [v for e in GOLDEN_EVENTS.values() for v in _variants(e)]
    out = []
    for i in range(count):
        event = variants[i % len(variants)]
        ref = f"{i:064x}"
        out.append(CODEC.encode(replace(event, event_id=uuid.UUID(int=i + 1), subject_ref=ref)))
    return out


def _project(values: list[bytes | None], *, blocks: bool) -> tuple[list[Any], list[Any]]:
    decoder = Decoder(CODEC, default_taxonomy(), ROW_TYPE, blocks=blocks)
    batch = Batch(ROW_TYPE, decoder)
    offset = 0
    for value in values:
        size = len(value) if value is not None else 1
        error = None if value is not None else "checksum mismatch (corrupt record)"
        batch.take(LogEntry(0, offset, offset + size, value, b"k", error))
        offset += size
    table = batch.table()
    assert (decoder.block_rows > len(values) // 2) is blocks  # the path under test was taken
    assert table.schema == pa.schema(list(ROW_TYPE))
    return table.to_pylist(), batch.quarantine


def _same_either_way(values: list[bytes | None]) -> list[Any]:
    rows, quarantine = _project(values, blocks=True)
    assert (rows, quarantine) == _project(values, blocks=False)
    return quarantine


def test_every_event_type_and_optional_field_decodes_alike() -> None:
    values: list[bytes | None] = list(_records(CHUNK_ROWS + BLOCK_MIN + 17))
    values += [golden_path(t, v).read_bytes() for t, v in LEGACY_EVENTS]  # older schemas
    assert _same_either_way(values) == []
    assert {v[2:10] for v in values if v} >= set(CODEC.fingerprints.values())
    assert len(EVENT_TYPES) == len(GOLDEN_EVENTS)


def _reencoded(data: bytes, change: dict[str, Any]) -> bytes:
    record = CODEC.decode(data)
    record.update(change)
    return CODEC.encode_record(record["envelope"]["event_type"], record)


@pytest.mark.parametrize(
    "fault",
    [
        "trailing byte",
        "cut short",
        "bad utf-8",
        "unknown category",
        "empty categories",
        "unknown purpose",
        "bad subject ref",
        "blank holder",
        "bad country",
        "unknown schema",
        "checksum",
        "repeated event id",
    ],
)
def test_a_faulty_record_among_many_is_set_aside_alike(fault: str) -> None:
    values: list[bytes | None] = list(_records(2 * BLOCK_MIN))
    at = next(i for i, v in enumerate(values) if v and v[2:10] == CODEC.fingerprints["DataShared"])
    data = values[at]
    assert data is not None
    if fault == "trailing byte":
        values[at] = data + b"\x00"
    elif fault == "cut short":
        values[at] = data[:-3]
    elif fault == "bad utf-8":
        values[at] = data.replace(b"golden", b"gold\xff\xfe")
    elif fault == "unknown category":
        values[at] = _reencoded(data, {"categories": ["user.name", "user.shoe_size"]})
    elif fault == "empty categories":
        values[at] = _reencoded(data, {"categories": []})
    elif fault == "unknown purpose":
        values[at] = _reencoded(data, {"purpose": "marketing.mind_reading"})
    elif fault == "bad subject ref":
        envelope = CODEC.decode(data)["envelope"]
        values[at] = _reencoded(data, {"envelope": {**envelope, "subject_ref": "X" * 64}})
    elif fault == "blank holder":
        values[at] = _reencoded(data, {"from_holder": "  "})
    elif fault == "bad country":
        values[at] = _reencoded(data, {"recipient_country": "XX"})
    elif fault == "unknown schema":
        values[at] = data[:2] + b"\x00" * 8 + data[10:]
    elif fault == "checksum":
        values[at] = None
    elif fault == "repeated event id":
        values[at + 1] = values[at]
    quarantine = _same_either_way(values)
    if fault == "repeated event id":
        assert quarantine == []
    else:
        assert [q[1] for q in quarantine] == [sum(len(v or b"x") for v in values[:at])]
