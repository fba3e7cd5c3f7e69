"""Avro single-object encoding on fastavro.

Wire form (Avro specification, "Single-object encoding")::

    C3 01 | 8-byte little-endian CRC-64-AVRO fingerprint of the writer schema | Avro body

The fingerprint lets any reader find the writer schema. Schemas are parsed once. Bytes written
under an older schema (kept in ``schemas/history/``) are resolved into the current reader schema
by Avro's rules, so adding a field with a default never breaks a reader. Every fastavro failure
becomes a ``CodecError``.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import fastavro
from fastavro.schema import fingerprint, to_parsing_canonical_form

from lineage.errors import CodecError, UnknownSchemaError
from lineage.events.model import EVENT_TYPES, Event, event_from_record, record_of
from lineage.resources import resource_dir

MAGIC = b"\xc3\x01"
HEADER_LEN = 10
NAMESPACE = "lineage.events"
# Named types shared by several event schemas; inlined where an event schema names them.
SHARED_TYPES = ("Envelope", "Evidence")


@dataclass(frozen=True)
class WriterSchema:
    event_type: str
    fingerprint: bytes
    parsed: Any
    current: bool
    # The same schema without logical types: identical bytes on the wire, but timestamps
    # decode to int microseconds and UUIDs to str, which is what the projector stores.
    raw: Any


def _inline(node: Any, shared: dict[str, Any], seen: set[str]) -> Any:
    """Replace references to shared named types by their definition (first use only)."""
    if isinstance(node, str):
        name = node if "." in node else f"{NAMESPACE}.{node}"
        if name in shared and name not in seen:
            seen.add(name)
            return _inline(shared[name], shared, seen)
        return node
    if isinstance(node, list):
        return [_inline(item, shared, seen) for item in node]
    if isinstance(node, dict):
        return {
            k: (_inline(v, shared, seen) if k in ("type", "items", "fields") else v)
            for k, v in node.items()
        }
    return node


def strip_logical_types(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: strip_logical_types(v) for k, v in node.items() if k != "logicalType"}
    if isinstance(node, list):
        return [strip_logical_types(item) for item in node]
    return node


def expand_schema(schema: dict[str, Any], shared: dict[str, Any]) -> dict[str, Any]:
    expanded: dict[str, Any] = _inline(schema, shared, set())
    return expanded


def schema_fingerprint(expanded: dict[str, Any]) -> bytes:
    # fastavro prints the CRC-64-AVRO value as little-endian hex: exactly the wire bytes.
    return bytes.fromhex(fingerprint(to_parsing_canonical_form(expanded), "CRC-64-AVRO"))


class Codec:
    """Encodes and decodes events. Build once (``default_codec()``) and share."""

    def __init__(self, schema_dir: Path | None = None) -> None:
        folder = schema_dir or resource_dir("schemas")
        self._shared: dict[str, Any] = {}
        for name in SHARED_TYPES:
            self._shared[f"{NAMESPACE}.{name}"] = _load_json(folder / f"{name}.avsc")
        self._readers: dict[str, Any] = {}
        self._raw_readers: dict[str, Any] = {}
        self._expanded: dict[str, dict[str, Any]] = {}
        self._current_fp: dict[str, bytes] = {}
        self._writers: dict[bytes, WriterSchema] = {}
        for event_type in EVENT_TYPES:
            schema = _load_json(folder / f"{event_type}.avsc")
            fp = self._register(schema, current=True)
            self._current_fp[event_type] = fp
        history = folder / "history"
        if history.is_dir():
            for path in sorted(history.glob("*.avsc")):
                self._register(_load_json(path), current=False)

    def _register(self, schema: dict[str, Any], *, current: bool) -> bytes:
        event_type = schema["name"]
        if event_type not in EVENT_TYPES:
            raise CodecError(f"schema {event_type!r} is not an event type")
        expanded = expand_schema(schema, self._shared)
        fp = schema_fingerprint(expanded)
        parsed = fastavro.parse_schema(expanded, named_schemas={})
        raw = fastavro.parse_schema(strip_logical_types(expanded), named_schemas={})
        if current:
            self._expanded[event_type] = expanded
            self._readers[event_type] = parsed
            self._raw_readers[event_type] = raw
        self._writers[fp] = WriterSchema(event_type, fp, parsed, current, raw)
        return fp

    def register_writer_schema(self, schema: dict[str, Any]) -> bytes:
        """Accept bytes written with ``schema`` (an older or foreign version of an event)."""
        return self._register(schema, current=False)

    def reader_schemas(self) -> dict[str, dict[str, Any]]:
        """The current (expanded, logical-type-bearing) schema of each event type."""
        return dict(self._expanded)

    @property
    def fingerprints(self) -> dict[str, bytes]:
        return dict(self._current_fp)

    def writer_schemas(self) -> Iterable[WriterSchema]:
        return self._writers.values()

    # -- encoding -------------------------------------------------------------------------
    def encode(self, event: Event) -> bytes:
        return self.encode_record(event.event_type, record_of(event))

    def encode_record(self, event_type: str, record: dict[str, Any]) -> bytes:
        try:
            schema = self._readers[event_type]
        except KeyError:
            raise CodecError(f"unknown event type {event_type!r}") from None
        buf = io.BytesIO()
        buf.write(MAGIC)
        buf.write(self._current_fp[event_type])
        try:
            fastavro.schemaless_writer(buf, schema, record, strict=True)
        except Exception as exc:  # fastavro raises many types; all mean "not this schema"
            raise CodecError(f"{event_type} does not fit its schema: {exc}") from exc
        return buf.getvalue()

    # -- decoding -------------------------------------------------------------------------
    def writer_of(self, data: bytes) -> WriterSchema:
        if len(data) < HEADER_LEN:
            raise CodecError(f"{len(data)} bytes is shorter than the single-object header")
        if data[:2] != MAGIC:
            raise CodecError(f"bad single-object marker {data[:2].hex()}")
        fp = data[2:HEADER_LEN]
        writer = self._writers.get(fp)
        if writer is None:
            raise UnknownSchemaError(fp)
        return writer

    def decode(self, data: bytes) -> dict[str, Any]:
        """Decode to the Avro record of the *current* schema of the event's type."""
        writer = self.writer_of(data)
        reader = None if writer.current else self._readers[writer.event_type]
        return self._decode(data, writer, writer.parsed, reader)

    def decode_raw(self, data: bytes) -> dict[str, Any]:
        """Like ``decode``, but times stay int microseconds (UTC) and ids stay strings."""
        writer = self.writer_of(data)
        reader = None if writer.current else self._raw_readers[writer.event_type]
        return self._decode(data, writer, writer.raw, reader)

    def _decode(
        self, data: bytes, writer: WriterSchema, schema: Any, reader: Any
    ) -> dict[str, Any]:
        buf = io.BytesIO(data)
        buf.seek(HEADER_LEN)
        try:
            record = fastavro.schemaless_reader(buf, schema, reader)
        except Exception as exc:
            raise CodecError(
                f"{writer.event_type} body is malformed: {type(exc).__name__}: {exc}"
            ) from exc
        if not isinstance(record, dict):
            raise CodecError(f"{writer.event_type} body is not a record")
        if buf.tell() != len(data):
            raise CodecError(
                f"{writer.event_type} body has {len(data) - buf.tell()} trailing bytes"
            )
        if record["envelope"]["event_type"] != writer.event_type:
            raise CodecError(
                f"envelope says {record['envelope']['event_type']!r} "
                f"but the schema is {writer.event_type}"
            )
        return record

    def decode_event(self, data: bytes) -> Event:
        return event_from_record(self.decode(data))


def _load_json(path: Path) -> dict[str, Any]:
    try:
        loaded: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise CodecError(f"cannot read schema {path.name}: {exc}") from exc
    return loaded


@cache
def default_codec() -> Codec:
    return Codec()
