"""The edge: raw identifiers become subject references here and go no further."""
