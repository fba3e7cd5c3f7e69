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
