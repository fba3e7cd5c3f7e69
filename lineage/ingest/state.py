"""Durable sync state: one JSON file per connector and resource in the lineage home.

State lives beside the log, not in the projection (which can be deleted and rebuilt). Writes
are atomic (temporary file, fsync, rename, fsync of the folder), so a crash leaves either the
old state or the new one, never half of each.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lineage.errors import ConfigError

_SAFE = re.compile(r"[^A-Za-z0-9_.-]")


@dataclass
class ResourceState:
    """``watermark``: the highest cursor value whose events are durably in the log.
    ``boundary``: keys of the records seen at exactly that value (a ``>=`` filter returns them
    again; they are skipped). ``run``: an interrupted run to resume (its ``since``, the
    paginator's next page, and the highest value seen so far). ``extra``: connector-owned."""

    watermark: Any = None
    boundary: list[str] = field(default_factory=list)
    run: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class StateStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, connector: str, resource: str) -> Path:
        return self.root / _SAFE.sub("_", connector) / f"{_SAFE.sub('_', resource)}.json"

    def load(self, connector: str, resource: str) -> ResourceState:
        path = self.path(connector, resource)
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            return ResourceState()
        except (OSError, ValueError) as exc:
            raise ConfigError(
                f"sync state {path} is unreadable ({exc}): delete it to resync"
            ) from None
        return ResourceState(
            watermark=data.get("watermark"),
            boundary=list(data.get("boundary") or []),
            run=data.get("run"),
            extra=dict(data.get("extra") or {}),
        )

    def save(self, connector: str, resource: str, state: ResourceState) -> None:
        path = self.path(connector, resource)
        path.parent.mkdir(parents=True, exist_ok=True)
        # No indent: it forces json's pure-Python encoder, and a checkpoint can hold
        # 100,000 boundary keys.
        data = {
            "watermark": state.watermark,
            "boundary": state.boundary,
            "run": state.run,
            "extra": state.extra,
        }
        atomic_write(path, json.dumps(data, sort_keys=True).encode())

    def reset(self, connector: str, resource: str) -> None:
        self.path(connector, resource).unlink(missing_ok=True)


def atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)  # the rename itself must survive a power cut
    finally:
        os.close(dir_fd)
