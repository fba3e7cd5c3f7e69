"""Many encoded events straight into Arrow columns, without a Python object per event.

fastavro builds a dict per record and a str per string (about 6 us per event here), which
is most of what a projection costs. polars' Avro reader (Rust) decodes an Avro container
file into Arrow columns at several times that rate. So the bodies of one writer schema are
framed as one container block and read in one call:

    container header (the writer schema, without logical types and defaults)
    block: count | byte size | body 1 | MARK | body 2 | MARK | ... | sync

``MARK`` is 8 random bytes, declared to the reader as a last field of the record. Every
body must end exactly where its mark begins: a body with trailing bytes, or one that is cut
short, puts other bytes where its mark is read. A group whose marks or event types are not
all right, or that the reader refuses, is left to the per-record path (``Codec.decode_raw``),
which names the faulty record. So are records of older writer schemas (polars does not
resolve schemas; fastavro fills their new fields' defaults).
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from typing import Any

import fastavro
import pyarrow as pa
import pyarrow.compute as pc

from lineage.codec.avro import HEADER_LEN, MAGIC, Codec, strip_logical_types

_MARK_FIELD = "lineage_block_mark_"
_SYNC = b"lineage-block-v1"


def _writer_schema(node: Any) -> Any:
    """The schema as the container's writer schema: no logical types (times stay int
    microseconds, ids strings, as ``decode_raw`` gives them), no docs or defaults (a writer
    schema needs none, and polars' schema parser rejects some defaults)."""
    if isinstance(node, dict):
        return {k: _writer_schema(v) for k, v in node.items() if k not in ("default", "doc")}
    if isinstance(node, list):
        return [_writer_schema(item) for item in node]
    return node


def _zigzag(n: int) -> bytes:
    """An Avro ``long`` (zig-zag varint) of a non-negative ``n``."""
    n <<= 1
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


class BlockDecoder:
    """Decodes records of the codec's current schemas into tables of ``row_type``'s fields."""

    def __init__(self, codec: Codec, row_type: pa.StructType) -> None:
        import polars  # noqa: F401  (fails here, not in the middle of a batch)

        self.row_type = row_type
        self._mark = os.urandom(8)
        self._mark_scalar = pa.scalar(self._mark, pa.binary())
        self._headers: dict[bytes, bytes] = {}
        for event_type, fp in codec.fingerprints.items():
            schema = dict(_writer_schema(strip_logical_types(codec.reader_schemas()[event_type])))
            mark = {"name": _MARK_FIELD, "type": {"type": "fixed", "name": "Mark", "size": 8}}
            schema["fields"] = [*schema["fields"], mark]
            header = io.BytesIO()
            fastavro.writer(header, schema, [], sync_marker=_SYNC)
            self._headers[fp] = header.getvalue()
        self._types = {fp: t for t, fp in codec.fingerprints.items()}

    def decode(
        self, values: Sequence[bytes | None]
    ) -> tuple[list[tuple[str, pa.Table, list[int]]], list[int]]:
        """(decoded, left): per event type, its table (every field of ``row_type`` but the
        log position; those its schema lacks are null) and the indexes of its rows in
        ``values``; and the indexes left to the per-record path, in order."""
        groups: dict[bytes, list[int]] = {}
        left: list[int] = []
        headers = self._headers
        for i, data in enumerate(values):
            if data is None or data[:2] != MAGIC or data[2:HEADER_LEN] not in headers:
                left.append(i)
            else:
                groups.setdefault(data[2:HEADER_LEN], []).append(i)
        decoded = []
        for fp, indexes in groups.items():
            table = self._read(fp, [values[i] for i in indexes])  # type: ignore[misc]
            if table is None:
                left.extend(indexes)
            else:
                decoded.append((self._types[fp], table, indexes))
        left.sort()
        return decoded, left

    def _read(self, fp: bytes, bodies: list[bytes]) -> pa.Table | None:
        import polars

        # Strings as Arrow views: polars hands them over without a copy (its older form
        # costs more than the decoding); ``conform`` casts them once, in C++.
        newest = polars.CompatLevel.newest()

        mark = self._mark
        data = mark.join([b[HEADER_LEN:] for b in bodies]) + mark
        block = b"".join((self._headers[fp], _zigzag(len(bodies)), _zigzag(len(data)), data, _SYNC))
        try:
            table = polars.read_avro(io.BytesIO(block)).to_arrow(compat_level=newest)
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException:  # any refusal, a Rust panic too (pyo3's PanicException is a
            # BaseException): the per-record path names the faulty record
            return None
        if table.num_rows != len(bodies):
            return None
        marks = table.column(_MARK_FIELD).cast(pa.binary())
        if not pc.all(pc.equal(marks, self._mark_scalar)).as_py():
            return None
        table = self._conform(table)
        types = pc.struct_field(table.column("envelope"), "event_type")
        if not pc.all(pc.equal(types, self._types[fp])).as_py():
            return None
        return table

    def _conform(self, table: pa.Table) -> pa.Table:
        """The table with every field of ``row_type`` (absent ones null), in its types."""
        n = table.num_rows
        columns = []
        names = set(table.column_names)
        fields = [f for f in self.row_type if f.name not in ("log_partition", "log_offset")]
        for f in fields:
            if f.name in names:
                columns.append(table.column(f.name).cast(f.type))
            else:
                columns.append(pa.nulls(n, f.type))
        return pa.Table.from_arrays(columns, schema=pa.schema(fields))
