"""Is the projection's stored position still a place in this log?

The projection stores, per partition, where it resumes (``next_offset``) and a fingerprint
of the last record it applied there (its offset and the CRC-32 of its bytes). A log that
lost records (cut after a damaged HEAD, a segment restored from an older backup) and was
appended to again could put other records under the same positions: resuming would skip
new acknowledged events, or set them aside as corrupt, while saying "up to date". So before
resuming, the record at the stored offset must be the one that was projected.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping

from lineage.errors import ProjectionMismatchError
from lineage.log.base import Log, LogEntry

# (next_offset, offset of the last applied record, its fingerprint); None for rows written
# before fingerprints were kept.
Mark = tuple[int, int | None, int | None]


def fingerprint(value: bytes | None) -> int:
    """The fingerprint of a record's bytes (-1 for a record that failed its checksum)."""
    return zlib.crc32(value) if value is not None else -1


def check_positions(log: Log, marks: Mapping[int, Mark], projection: str) -> None:
    """Refuse (one line, naming the fix) a projection that is not a prefix of ``log``."""
    ends = log.end_offsets()
    for partition, (position, _, _) in marks.items():
        end = ends.get(partition, 0)
        if position > end:
            raise ProjectionMismatchError(
                f"projection {projection} has read partition {partition} up to {position} "
                f"but the log ends at {end} (the log lost records): run `lineage rebuild`"
            )
    marked = {p: (last, crc, nxt) for p, (nxt, last, crc) in marks.items() if last is not None}
    if not marked:
        return
    found: dict[int, LogEntry] = {}
    entries = log.read({p: last for p, (last, _, _) in marked.items()})
    try:
        for entry in entries:
            if entry.partition in marked and entry.partition not in found:
                found[entry.partition] = entry
                if len(found) == len(marked):
                    break
    finally:
        close = getattr(entries, "close", None)
        if close is not None:
            close()
    for partition, (last, crc, nxt) in marked.items():
        seen = found.get(partition)
        if (
            seen is None
            or seen.offset != last
            or seen.next_offset != nxt
            or fingerprint(seen.value) != crc
        ):
            raise ProjectionMismatchError(
                f"projection {projection} does not match the log: the record before its "
                f"position {nxt} in partition {partition} is not the one it projected (the "
                "log was cut or replaced since): run `lineage rebuild`"
            )
