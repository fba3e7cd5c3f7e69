"""The Avro codec: golden bytes, fingerprints, round trips, schema evolution, bad input."""

from __future__ import annotations

import copy
import io
import json
import shutil
import struct
import uuid
from dataclasses import fields, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, get_type_hints

import fastavro
import pytest
from fastavro.schema import to_parsing_canonical_form
from hypothesis import given
from hypothesis import strategies as st

from lineage.codec import MAGIC, Codec, default_codec
from lineage.codec.avro import schema_fingerprint
from lineage.errors import CodecError, UnknownSchemaError
from lineage.events.model import EVENT_TYPES, DataCollected, DataErased, Event, Evidence
from lineage.resources import resource_dir
from tests.golden.make_golden import GOLDEN_EVENTS, HERE, LEGACY_EVENTS, golden_path

CODEC = default_codec()


# -- golden bytes ------------------------------------------------------------------------------
def test_every_event_type_has_a_golden_file() -> None:
    assert set(GOLDEN_EVENTS) == set(EVENT_TYPES)
    for event_type in EVENT_TYPES:
        assert golden_path(event_type).is_file(), "run python -m tests.golden.make_golden"


@pytest.mark.parametrize("event_type", sorted(EVENT_TYPES))
def test_golden_event_sets_every_optional_field(event_type: str) -> None:
    # A field left at its default would not be pinned by the golden bytes.
    event = GOLDEN_EVENTS[event_type]
    for f in fields(event):
        if f.name == "schema_version":
            continue
        value = getattr(event, f.name)
        assert value is not None and value != () and value != f.default, f.name


@pytest.mark.parametrize("event_type", sorted(EVENT_TYPES))
def test_golden_bytes_decode_to_the_event(event_type: str) -> None:
    data = golden_path(event_type).read_bytes()
    assert CODEC.decode_event(data) == GOLDEN_EVENTS[event_type]


@pytest.mark.parametrize("event_type", sorted(EVENT_TYPES))
def test_encoding_the_event_gives_the_golden_bytes(event_type: str) -> None:
    data = golden_path(event_type).read_bytes()
    assert CODEC.encode(GOLDEN_EVENTS[event_type]) == data
    assert data[:2] == b"\xc3\x01"
    assert data[2:10] == CODEC.fingerprints[event_type]


def test_every_golden_file_is_current_or_listed_as_legacy() -> None:
    on_disk = {p.name for p in HERE.glob("*.bin")}
    known = {golden_path(t).name for t in EVENT_TYPES} | {
        golden_path(t, v).name for t, v in LEGACY_EVENTS
    }
    assert on_disk == known


@pytest.mark.parametrize("key", sorted(LEGACY_EVENTS), ids=lambda k: f"{k[0]}-v{k[1]}")
def test_bytes_of_earlier_schema_versions_still_decode(key: tuple[str, int]) -> None:
    event_type, version = key
    data = golden_path(event_type, version).read_bytes()
    assert data[2:10] != CODEC.fingerprints[event_type]  # written by the older schema
    decoded = CODEC.decode_event(data)
    assert decoded == LEGACY_EVENTS[key]
    assert decoded.schema_version == version < EVENT_TYPES[event_type].version


@pytest.mark.parametrize("event_type", sorted(EVENT_TYPES))
def test_golden_bytes_decode_raw(event_type: str) -> None:
    # The projector's path: times as int microseconds (UTC), ids as strings.
    event = GOLDEN_EVENTS[event_type]
    env = CODEC.decode_raw(golden_path(event_type).read_bytes())["envelope"]
    assert env["event_id"] == str(event.event_id)
    assert env["event_type"] == event_type
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    assert env["occurred_at"] == (event.occurred_at - epoch) // _MICROSECOND
    assert env["recorded_at"] == (event.recorded_at - epoch) // _MICROSECOND


_MICROSECOND = datetime(1970, 1, 1, 0, 0, 0, 1) - datetime(1970, 1, 1)


# -- fingerprints ------------------------------------------------------------------------------
_EMPTY64 = 0xC15D213AA4D7A795  # the Avro specification's CRC-64-AVRO seed


def _crc64_table() -> list[int]:
    table = []
    for i in range(256):
        fp = i
        for _ in range(8):
            fp = (fp >> 1) ^ (_EMPTY64 & -(fp & 1))
        table.append(fp)
    return table


_TABLE = _crc64_table()


def crc64_avro(data: bytes) -> int:
    """The specification's reference algorithm, written out here to check the codec's."""
    fp = _EMPTY64
    for byte in data:
        fp = (fp >> 8) ^ _TABLE[(fp ^ byte) & 0xFF]
    return fp


def test_fingerprint_of_null_is_the_specifications_value() -> None:
    expected = struct.pack("<Q", 7195948357588979594)  # the spec's value, stored little-endian
    assert crc64_avro(b'"null"') == 7195948357588979594
    assert schema_fingerprint("null") == expected  # type: ignore[arg-type]


@pytest.mark.parametrize("event_type", sorted(EVENT_TYPES))
def test_event_fingerprint_is_crc64_of_the_canonical_form(event_type: str) -> None:
    canonical = to_parsing_canonical_form(CODEC.reader_schemas()[event_type])
    expected = struct.pack("<Q", crc64_avro(canonical.encode()))
    assert CODEC.fingerprints[event_type] == expected


def test_fingerprints_are_distinct() -> None:
    assert len(set(CODEC.fingerprints.values())) == len(EVENT_TYPES)


# -- hypothesis round trip ---------------------------------------------------------------------
_text = st.text(max_size=40)
_opt_text = st.none() | _text
_times = st.datetimes(
    min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)
)
_STRATEGIES: dict[Any, st.SearchStrategy[Any]] = {
    str: _text,
    str | None: _opt_text,
    tuple[str, ...]: st.lists(_text, max_size=5).map(tuple),
    datetime: _times,
    datetime | None: st.none() | _times,
    uuid.UUID: st.uuids(),
    int: st.integers(min_value=-(2**31), max_value=2**31 - 1),
    Evidence | None: st.none() | st.builds(Evidence, text_version=_opt_text, channel=_opt_text),
}


def event_strategy(cls: type[Event]) -> st.SearchStrategy[Event]:
    """Every field of ``cls`` drawn from the strategy for its type. A field of a type with no
    strategy fails here, so a new kind of field cannot slip past the round trip."""
    hints = get_type_hints(cls)
    kwargs = {}
    for f in fields(cls):
        assert hints[f.name] in _STRATEGIES, f"no strategy for {cls.__name__}.{f.name}"
        kwargs[f.name] = _STRATEGIES[hints[f.name]]
    return st.builds(cls, **kwargs)


@pytest.mark.parametrize("event_type", sorted(EVENT_TYPES))
def test_round_trip(event_type: str) -> None:
    @given(event_strategy(EVENT_TYPES[event_type]))
    def check(event: Event) -> None:
        data = CODEC.encode(event)
        assert CODEC.decode_event(data) == event
        assert CODEC.decode_raw(data)["envelope"]["event_id"] == str(event.event_id)

    check()


# -- schema evolution --------------------------------------------------------------------------
def _without(schema: dict[str, Any], *names: str) -> dict[str, Any]:
    old = copy.deepcopy(schema)
    old["fields"] = [f for f in old["fields"] if f["name"] not in names]
    return old


def _encode_with(schema: dict[str, Any], fp: bytes, record: dict[str, Any]) -> bytes:
    """What another program writing ``schema`` puts on the wire."""
    buf = io.BytesIO()
    buf.write(MAGIC + fp)
    fastavro.schemaless_writer(buf, fastavro.parse_schema(schema, named_schemas={}), record)
    return buf.getvalue()


def test_old_writer_schema_decodes_under_the_current_reader() -> None:
    codec = Codec()
    current = codec.reader_schemas()["DataCollected"]
    # Version before ``origin`` and ``retention`` existed (both have defaults now).
    old = _without(current, "origin", "retention")
    record = GOLDEN_EVENTS["DataCollected"].to_record()
    del record["origin"], record["retention"]
    data = _encode_with(old, schema_fingerprint(old), record)

    with pytest.raises(UnknownSchemaError):
        codec.decode(data)
    fp = codec.register_writer_schema(old)
    assert fp == data[2:10] and fp != codec.fingerprints["DataCollected"]

    event = codec.decode_event(data)
    assert isinstance(event, DataCollected)
    assert (event.origin, event.retention) == ("data_subject", None)
    assert event.categories == GOLDEN_EVENTS["DataCollected"].categories
    assert codec.decode_raw(data)["retention"] is None


def test_old_reader_ignores_a_new_writers_field(tmp_path: Path) -> None:
    # An older release (its schemas without ``retention``) reads what this release writes.
    old_dir = tmp_path / "schemas"
    shutil.copytree(resource_dir("schemas"), old_dir)
    current = json.loads((old_dir / "DataCollected.avsc").read_text())
    (old_dir / "DataCollected.avsc").write_text(json.dumps(_without(current, "retention")))
    old_codec = Codec(old_dir)
    data = golden_path("DataCollected").read_bytes()

    with pytest.raises(UnknownSchemaError):
        old_codec.decode(data)
    old_codec.register_writer_schema(current)
    record = old_codec.decode(data)
    assert "retention" not in record
    assert record["system"] == "webshop-db"


# -- inputs that must fail ---------------------------------------------------------------------
def _golden(event_type: str = "DataErased") -> bytes:
    return golden_path(event_type).read_bytes()


def _mislabelled() -> bytes:
    record = GOLDEN_EVENTS["DataErased"].to_record()
    record["envelope"]["event_type"] = "DataCollected"
    return CODEC.encode_record("DataErased", record)


def _bad_utf8() -> bytes:
    data = CODEC.encode(replace(GOLDEN_EVENTS["DataErased"], source="AAAA"))
    return data.replace(b"AAAA", b"\xff\xfe\xfd\xfc")


BAD_INPUTS: dict[str, tuple[bytes, type[CodecError]]] = {
    "empty": (b"", CodecError),
    "garbage": (b"this is not an avro event at all", CodecError),
    "short header": (MAGIC + b"\x01\x02", CodecError),
    "bad marker": (b"\xc3\x02" + _golden()[2:], CodecError),
    "marker bytes swapped": (b"\x01\xc3" + _golden()[2:], CodecError),
    "header without body": (_golden()[:10], CodecError),
    "truncated body": (_golden()[:-3], CodecError),
    "body cut in the envelope": (_golden()[:30], CodecError),
    "trailing bytes": (_golden() + b"\x00", CodecError),
    "unknown fingerprint": (MAGIC + b"\xff" * 8 + _golden()[10:], UnknownSchemaError),
    "garbage body": (_golden()[:10] + b"\xff" * 64, CodecError),
    "another type's body": (_golden("DataCollected")[:10] + _golden()[10:], CodecError),
    "envelope names another type": (_mislabelled(), CodecError),
    "invalid utf-8 in a string": (_bad_utf8(), CodecError),
}


@pytest.mark.parametrize("name", list(BAD_INPUTS))
@pytest.mark.parametrize("method", ["decode", "decode_raw", "decode_event"])
def test_bad_input_raises_codec_error(name: str, method: str) -> None:
    data, error = BAD_INPUTS[name]
    with pytest.raises(error) as info:
        getattr(CODEC, method)(data)
    assert info.value.reason  # a readable sentence, not a bare fastavro exception
    if error is UnknownSchemaError:
        assert info.value.fingerprint == b"\xff" * 8  # type: ignore[attr-defined]


def test_encoding_an_event_that_does_not_fit_its_schema_fails() -> None:
    bad = DataErased(
        subject_ref="0" * 64,
        occurred_at=datetime(2024, 1, 1, tzinfo=UTC),
        source="test",
        holder="mailchimp",
        categories=(1, 2),  # type: ignore[arg-type]
    )
    with pytest.raises(CodecError):
        CODEC.encode(bad)
    with pytest.raises(CodecError):
        CODEC.encode_record("NoSuchEvent", {})
    record = GOLDEN_EVENTS["DataErased"].to_record()
    del record["holder"]
    with pytest.raises(CodecError):
        CODEC.encode_record("DataErased", record)
