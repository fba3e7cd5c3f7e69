"""``lineage project --follow``: the long-running projector."""

from __future__ import annotations

import signal
import threading
from typing import Any

import click

from lineage.cli.output import emit_json


def run_follow(ctx: click.Context, app: Any, fmt: str) -> None:
    from lineage.services.follow import FollowTotals, follow

    stop = threading.Event()

    def request_stop(signum: int, _frame: Any) -> None:
        # Finish the batch in hand, commit it, then exit: nothing half-applied.
        stop.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGTERM, signal.SIGINT)}

    def report(totals: FollowTotals) -> None:
        if fmt == "table":
            click.echo(
                f"projected {totals.applied} events in {totals.batches} batches "
                f"({totals.quarantined} set aside)",
                err=True,
            )

    path = app.settings.projection_path
    if fmt == "table":
        click.echo(f"following {app.log.kind} log into {path} (Ctrl-C to stop)", err=True)
    try:
        totals = follow(app, stop, on_round=report)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if fmt == "json":
        emit_json({"stopped": True, **totals.__dict__})
    else:
        click.echo(f"stopped: projected {totals.applied} events in {totals.batches} batches")
