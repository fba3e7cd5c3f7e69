"""Named SQL from ``queries/*.sql``, read once."""

from __future__ import annotations

from functools import cache

from lineage.resources import resource_dir


@cache
def sql(name: str) -> str:
    path = resource_dir("queries") / f"{name}.sql"
    return path.read_text()


def statements(name: str) -> list[str]:
    """The statements of a multi-statement file (split on ';' at line ends)."""
    parts = [p.strip() for p in sql(name).split(";\n")]
    return [p for p in parts if p and not all(line.startswith("--") for line in p.splitlines())]
