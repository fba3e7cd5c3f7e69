"""Sharing one projection file between a follower and readers in other processes.

DuckDB lets one process open a file for writing, and then no other process can open it at
all, not even read-only. So a running ``project --follow`` never keeps the file open for
long: it opens it for one batch (one short transaction) and closes it again. Readers get in
between batches:

- the follower announces itself in ``<projection>.follower`` (its pid);
- a reader drops a marker in ``<projection>.readers/`` and opens the file read-only, retrying
  while the follower holds it; the follower waits while markers exist before it opens the
  file for its next batch, so a reader is never starved by back-to-back batches;
- markers of processes that died are ignored and removed.

Readers see the state after the last committed batch: never a half-applied one.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

from lineage.errors import ProjectionBusyError, ProjectionError
from lineage.projection.store import Store

_POLL = 0.02


def follower_file(path: Path) -> Path:
    return path.with_name(path.name + ".follower")


def readers_dir(path: Path) -> Path:
    return path.with_name(path.name + ".readers")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def follower_pid(path: Path) -> int | None:
    """The pid of a live follower of this projection, or None."""
    try:
        pid = int(json.loads(follower_file(path).read_text())["pid"])
    except (OSError, ValueError, KeyError):
        return None
    return pid if _alive(pid) else None


@contextlib.contextmanager
def following(path: Path) -> Iterator[None]:
    """Announce this process as the projection's follower for the duration."""
    other = follower_pid(path)
    if other is not None and other != os.getpid():
        raise ProjectionError(f"projection {path} is already followed by process {other}")
    marker = follower_file(path)
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(json.dumps({"pid": os.getpid()}))
    try:
        yield
    finally:
        marker.unlink(missing_ok=True)


@contextlib.contextmanager
def reader_turn(path: Path) -> Iterator[None]:
    """Ask the follower to leave the file closed until this reader is done."""
    folder = readers_dir(path)
    folder.mkdir(parents=True, exist_ok=True)
    marker = folder / f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
    marker.touch()
    try:
        yield
    finally:
        marker.unlink(missing_ok=True)


def wait_for_readers(path: Path, timeout: float, stop: threading.Event | None = None) -> None:
    """Follower side: wait (at most ``timeout``) while readers have announced themselves."""
    folder = readers_dir(path)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not (stop and stop.is_set()):
        waiting = False
        for marker in folder.glob("*") if folder.is_dir() else []:
            pid = int(marker.name.split("-", 1)[0]) if marker.name[0].isdigit() else -1
            if _alive(pid):
                waiting = True
            else:
                marker.unlink(missing_ok=True)
        if not waiting:
            return
        time.sleep(_POLL)


def open_store(path: Path, *, read_only: bool, timeout: float) -> Store:
    """Open the projection, waiting (at most ``timeout``) while another process has it
    open; then "busy" (exit 3)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if read_only and not path.exists():
                raise ProjectionBusyError(str(path), timeout, "not created yet")
            return Store(path, read_only=read_only)
        except ProjectionBusyError as exc:
            if time.monotonic() >= deadline:
                raise ProjectionBusyError(str(path), timeout) from exc
        time.sleep(_POLL)
