"""The processing catalog: what a company declares (Art. 30's skeleton).

``load_catalog`` reads and validates a YAML file; every problem carries file:line:column.
pydantic and PyYAML are imported only when a catalog is loaded.
"""

from __future__ import annotations

from pathlib import Path

CATALOG_FILE = "lineage.yaml"

__all__ = ["CATALOG_FILE", "catalog_path"]


def catalog_path(home: Path, explicit: str | Path | None = None) -> Path | None:
    """The catalog to use: ``--catalog FILE`` if given, else ``lineage.yaml`` in the home
    when it exists, else None."""
    if explicit:
        return Path(explicit)
    default = home / CATALOG_FILE
    return default if default.is_file() else None


def catalog_stamp(home: Path, explicit: str | Path | None = None) -> tuple[str, int, int] | None:
    """Which catalog file, and its modification time and size (None without one): a
    long-running process loads it again when this changes."""
    path = catalog_path(home, explicit)
    try:
        stat = path.stat() if path else None
    except OSError:
        return None
    return (str(path), stat.st_mtime_ns, stat.st_size) if path and stat else None
