"""Avro codec: events <-> single-object encoded bytes."""

from lineage.codec.avro import MAGIC, Codec, default_codec

__all__ = ["MAGIC", "Codec", "default_codec"]
