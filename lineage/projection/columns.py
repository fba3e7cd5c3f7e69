"""The projection's ``events`` columns, mapped from the event definitions.

Each event type says where its fields go (``Event.columns``, ``Event.fixed``); a field named
like a column goes there, and any other goes to the row's JSON ``detail``. The SELECT that
``queries/apply_batch.sql`` inserts (``@EVENT_COLUMNS``) is built from that here, so adding an
event type or a field never touches the SQL.
"""

from __future__ import annotations

from functools import cache

from lineage.events import kinds

# The envelope and log position come first; then these, in the table's order (schema.sql).
BODY_COLUMNS = (
    "categories",
    "holder",
    "from_holder",
    "role",
    "country",
    "mechanism",
    "mechanism_ref",
    "purpose",
    "legal_basis",
    "data_subject",
    "origin",
    "retention",
    "linked_ref",
    "request_id",
    "status",
    "reason",
    "at_time",
    "detail",
)
_HEAD = (
    "b.envelope.event_id::UUID",
    "b.envelope.event_type",
    "b.envelope.occurred_at",
    "b.envelope.recorded_at",
    "b.envelope.source",
    "b.envelope.subject_ref",
    "b.envelope.schema_version",
    "b.log_partition",
    "b.log_offset",
)


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


@cache
def event_columns() -> str:
    """The SELECT list for one batch row (alias ``b``) in the ``events`` table's order."""
    from lineage.events.model import EVENT_TYPES, body_fields

    sources: dict[str, list[str]] = {c: [] for c in BODY_COLUMNS}
    fixed: dict[str, list[tuple[str, str]]] = {c: [] for c in BODY_COLUMNS}
    detail: dict[str, list[str]] = {}
    for name, cls in EVENT_TYPES.items():
        for f in body_fields(cls):
            column = cls.columns.get(f, f)
            if column in sources and column != "detail":
                if f not in sources[column]:
                    sources[column].append(f)
            else:
                detail.setdefault(name, []).append(f)
        for column, value in cls.fixed.items():
            fixed[column].append((name, value))
    out = list(_HEAD)
    for column in BODY_COLUMNS:
        if column == "detail":
            out.append(_detail(detail))
            continue
        fields = sources[column]
        expr = (
            "NULL"
            if not fields
            else f"b.{fields[0]}"
            if len(fields) == 1
            else "coalesce(" + ", ".join(f"b.{f}" for f in fields) + ")"
        )
        if fixed[column]:
            cases = " ".join(
                f"WHEN b.envelope.event_type = {_quote(t)} THEN {_quote(v)}"
                for t, v in fixed[column]
            )
            expr = f"CASE {cases} ELSE {expr} END"
        out.append(expr)
    return ",\n    ".join(out)


def _detail(by_type: dict[str, list[str]]) -> str:
    """One JSON object per event type of its remaining fields; NULL when all are null."""
    whens = []
    for name, fields in by_type.items():
        obj = "json_object(" + ", ".join(f"{_quote(f)}, b.{f}" for f in fields) + ")::VARCHAR"
        empty = " AND ".join(f"b.{f} IS NULL" for f in fields)
        whens.append(f"WHEN {_quote(name)} THEN CASE WHEN {empty} THEN NULL ELSE {obj} END")
    return "CASE b.envelope.event_type " + " ".join(whens) + " END"


def macros() -> dict[str, str]:
    """SQL fragments ``projection.queries`` expands besides the event type names."""
    assert kinds.ALL  # the types whose fields are mapped are the kinds
    return {"EVENT_COLUMNS": event_columns()}
