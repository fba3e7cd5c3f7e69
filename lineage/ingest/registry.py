"""Connectors are plugins: entry points in the group ``lineage.connectors``, each naming a
``Connector`` subclass. The built-in ones register the same way (see pyproject.toml)."""

from __future__ import annotations

from importlib.metadata import EntryPoint, entry_points

from lineage.errors import InputError
from lineage.events.taxonomy import suggest
from lineage.ingest.base import Connector

GROUP = "lineage.connectors"


def available() -> dict[str, EntryPoint]:
    return {ep.name: ep for ep in entry_points(group=GROUP)}


def load(name: str) -> type[Connector]:
    found = available()
    if name not in found:
        hint = suggest(name, list(found))
        extra = f" (did you mean {hint[0]!r}?)" if hint else ""
        raise InputError(f"no connector {name!r}{extra}; installed: {', '.join(sorted(found))}")
    cls = found[name].load()
    if not (isinstance(cls, type) and issubclass(cls, Connector)):
        raise InputError(f"entry point {name!r} in {GROUP} is not a Connector class")
    return cls
