"""``lineage log compact``: drop forgotten subjects' lineage events from the embedded log.

The projection already forgets them (``queries/forget.sql``); compaction makes the log agree
physically, under each reference's cut-off at the time it runs. A completion of a request
dated earlier, recorded after the compaction, lowers a cut-off: the projection would read the
rows between the two back from the log, but the compacted log no longer holds them, so they
stay gone (and a rebuild agrees: it lacks them too). Kept: every other event, and the
forgotten subjects' erasure events and identity links (the accountability record). The
rewritten log has a new ``log_id`` and names the old one, so a projection of the old log
starts over on it by itself: here at once, or in the next command after a crash.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC
from typing import Any

from lineage.errors import CodecError, ConfigError
from lineage.events import kinds

LINEAGE_EVENTS = frozenset(kinds.LINEAGE)


@dataclass(frozen=True)
class CompactResult:
    kept: int
    dropped: int
    subjects: int
    old_log_id: str
    new_log_id: str


def compact(app: Any) -> CompactResult:
    from lineage.codec import default_codec
    from lineage.log.file import FileLog

    log = app.log
    if not isinstance(log, FileLog):
        raise ConfigError(
            f"`lineage log compact` rewrites the embedded log; the {log.kind} backend relies "
            "on its own retention"
        )
    with app.store() as store:
        app.catch_up(store)
        rows = store.fetch("forgotten_cutoffs")
    cutoffs = {ref: int(at.replace(tzinfo=UTC).timestamp() * 1_000_000) for ref, at in rows}
    codec = default_codec()

    def keep(value: bytes) -> bool:
        try:
            env = codec.decode_raw(value)["envelope"]
        except CodecError:
            return True  # never drop what cannot be read
        cut = cutoffs.get(env["subject_ref"])
        return not (
            cut is not None and env["event_type"] in LINEAGE_EVENTS and env["occurred_at"] <= cut
        )

    old_id = log.log_id
    kept, dropped = log.compact(keep)
    # The projection starts over on the new log (the same step the next command takes
    # when a kill lands between the swap and here).
    with app.store() as store:
        app.catch_up(store)
    return CompactResult(kept, dropped, len(cutoffs), old_id, log.log_id)
