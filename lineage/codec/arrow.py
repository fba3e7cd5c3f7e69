"""The Arrow type of a decoded batch, derived from the Avro schemas (never kept by hand)."""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from lineage.codec.avro import Codec

_PRIMITIVES = {
    "string": pa.string(),
    "int": pa.int32(),
    "long": pa.int64(),
    "boolean": pa.bool_(),
    "double": pa.float64(),
    "float": pa.float32(),
    "bytes": pa.binary(),
}


def arrow_type(avro: Any) -> pa.DataType:
    if isinstance(avro, list):  # ["null", X]: nullability is Arrow's default
        (inner,) = [t for t in avro if t != "null"]
        return arrow_type(inner)
    if isinstance(avro, str):
        return _PRIMITIVES[avro]
    kind = avro["type"]
    if avro.get("logicalType") == "timestamp-micros":
        return pa.timestamp("us")
    if kind == "array":
        return pa.list_(arrow_type(avro["items"]))
    if kind == "record":
        return pa.struct([(f["name"], arrow_type(f["type"])) for f in avro["fields"]])
    return arrow_type(kind)


def batch_row_type(codec: Codec) -> pa.StructType:
    """One field per Avro field of any current event schema, plus the log position."""
    fields: dict[str, pa.DataType] = {}
    for schema in codec.reader_schemas().values():
        for f in schema["fields"]:
            typ = arrow_type(f["type"])
            if fields.setdefault(f["name"], typ) != typ:
                raise TypeError(f"field {f['name']} has two types across event schemas")
    fields["log_partition"] = pa.int32()
    fields["log_offset"] = pa.int64()
    return pa.struct(list(fields.items()))
