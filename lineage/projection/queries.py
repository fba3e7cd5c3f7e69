"""Named SQL from ``queries/*.sql``, read once.

Event type names come from ``lineage.events.kinds``: a query writes ``@FLOWS`` or
``@COLLECTED`` and gets ``('DataCollected', 'DataShared', 'DataTransferred')`` or
``'DataCollected'``; ``@EVENT_COLUMNS`` is the projection's column mapping, built from the
event definitions (``projection.columns``); ``@PAIR_KEY`` is a kept flow pair's key and
``@FLOW_COLUMNS`` a flow's grouping columns (``FRAGMENTS``). An unknown macro is an error
when the query is first loaded.
"""

from __future__ import annotations

import re
from functools import cache

from lineage.events.kinds import SQL_MACROS
from lineage.resources import resource_dir

_MACRO = re.compile(r"@([A-Z][A-Z_]*)\b")

_FLOW = ("event_type", "purpose", "legal_basis", "holder", "from_holder", "role", "country")
# A kept (flow, subject) pair's identity (queries/flow_subjects_*.sql): the MD5 of its key
# columns, 128 bits like an event's random id, so a batch finds its kept pairs by probing one
# narrow column instead of nine text columns (most of a small batch's upkeep).
FRAGMENTS = {
    # A flow's grouping columns, in one order everywhere they are listed.
    "FLOW_COLUMNS": ", ".join((*_FLOW, "mechanism")),
    "PAIR_KEY": "md5_number(concat_ws(chr(31), "
    + ", ".join(f"coalesce({c}, chr(30))" for c in (*_FLOW, "mechanism", "subject_ref"))
    + "))",
}


def _literal(value: str | tuple[str, ...]) -> str:
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return "(" + ", ".join(_literal(v) for v in value) + ")"


def expand(text: str, name: str = "<sql>") -> str:
    from lineage.projection.columns import macros

    fragments = {**FRAGMENTS, **(macros() if "@EVENT_COLUMNS" in text else {})}

    def one(m: re.Match[str]) -> str:
        key = m.group(1)
        if key in fragments:
            return fragments[key]
        if key not in SQL_MACROS:
            raise KeyError(f"queries/{name}.sql: unknown macro @{key}")
        return _literal(SQL_MACROS[key])

    return _MACRO.sub(one, text)


@cache
def sql(name: str) -> str:
    path = resource_dir("queries") / f"{name}.sql"
    return expand(path.read_text(), name)


def statements(name: str) -> list[str]:
    """The statements of a multi-statement file (split on ';' at line ends)."""
    parts = [p.strip() for p in sql(name).split(";\n")]
    return [p for p in parts if p and not all(line.startswith("--") for line in p.splitlines())]
