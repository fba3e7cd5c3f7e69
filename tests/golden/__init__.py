"""Golden single-object encodings: bytes earlier releases wrote, which must still decode."""
