"""``project --follow``: keep the projection current until told to stop.

Each round opens the projection, projects at most one batch (committed in one transaction
with its positions, see the projector), and closes the file again so that readers in other
processes can open it (``projection.access``). A broker that stops answering is waited out:
the round fails before its commit, so nothing is applied, and the next round starts again
from the committed positions.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from lineage.errors import LogUnavailableError, ProjectionError
from lineage.projection.access import following, open_store, wait_for_readers
from lineage.services.app import App

log = logging.getLogger("lineage.follow")


@dataclass
class FollowTotals:
    read: int = 0
    applied: int = 0
    quarantined: int = 0
    batches: int = 0
    outages: int = 0


def follow(
    app: App,
    stop: threading.Event,
    on_round: Callable[[FollowTotals], None] | None = None,
) -> FollowTotals:
    settings = app.settings
    path = settings.projection_path
    idle = min(max(settings.max_latency, 0.05), 1.0)
    totals = FollowTotals()
    backoff = 0.5
    verify = True  # the stored positions are checked against the log once, in round one
    with following(path):
        while not stop.is_set():
            wait_for_readers(path, settings.lock_timeout, stop)
            try:
                store = open_store(path, read_only=False, timeout=settings.lock_timeout)
            except ProjectionError as exc:
                log.warning("%s; retrying", exc)
                stop.wait(idle)
                continue
            try:
                result = app.projector(store, follow=True, verify=verify).run(
                    limit=settings.batch_size
                )
                verify = False
            except LogUnavailableError as exc:
                totals.outages += 1
                log.warning("%s; retrying in %.1fs", exc, backoff)
                stop.wait(backoff)
                backoff = min(backoff * 2, 10.0)
                continue
            finally:
                store.close()
            backoff = 0.5
            totals.read += result.read
            totals.applied += result.applied
            totals.quarantined += result.quarantined
            if result.read:
                totals.batches += 1
                if on_round:
                    on_round(totals)
            else:
                stop.wait(idle)
    return totals
