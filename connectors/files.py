"""Files: CSV and JSON Lines exports from systems without an API, with a declared mapping.

Each export is declared under ``[files.exports.NAME]`` in ``connectors.toml``::

    [files.exports.applicants]
    path = "exports/applicants.csv"          # relative to the lineage home
    id_column = "application_id"
    updated_column = "submitted_at"          # the watermark; optional
    identifiers = { email = "email", phone = "phone" }   # column = identifier kind
    columns = { full_name = "user.name", email = "user.contact.email", cv_file = "user" }
    ignore = ["position"]                    # columns that hold no personal data
    system = "recruiting-sheet"
    purpose = "employment.recruitment"
    legal_basis = "legitimate_interests"
    data_subject = "job_applicant"
    retention = "P6M"

Every column must be mapped or ignored: a new column in an export is an error, not a
silent gap in the record. With ``recipient`` set, rows are data shared with that recipient
instead of collected in ``system``.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from connectors import mapping as m
from lineage.errors import ConfigError, LineageError
from lineage.events.model import Event
from lineage.events.taxonomy import default_taxonomy
from lineage.ingest.base import Connector, Defaults, MappingContext, Resource
from lineage.ingest.config import ConnectorConfig
from lineage.ingest.errors import PayloadError
from lineage.ingest.http import Api
from lineage.ingest.paginate import Page
from lineage.timeutil import iso

PAGE = 1000
_SPEC_KEYS = {
    "path", "format", "id_column", "updated_column", "identifiers", "columns", "ignore",
    "system", "purpose", "legal_basis", "data_subject", "retention", "recipient",
    "recipient_role", "recipient_country",
}  # fmt: skip


@dataclass(frozen=True)
class FilesConfig(ConnectorConfig):
    exports: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Export:
    name: str
    path: Path
    format: str
    id_column: str
    updated_column: str | None
    identifiers: dict[str, str]
    columns: dict[str, tuple[str, ...]]
    ignore: frozenset[str]
    defaults: Defaults
    shared: bool


def parse_export(name: str, spec: Mapping[str, Any], base: Path) -> Export:
    where = f"[files.exports.{name}]"
    unknown = sorted(set(spec) - _SPEC_KEYS)
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r}")
    for required in ("path", "id_column", "identifiers", "columns", "purpose", "legal_basis"):
        if required not in spec:
            raise ConfigError(f"{where}: missing {required!r}")
    path = Path(spec["path"])
    path = path if path.is_absolute() else base / path
    fmt = spec.get("format") or ("csv" if path.suffix.lower() == ".csv" else "jsonl")
    if fmt not in ("csv", "jsonl"):
        raise ConfigError(f"{where}: format must be csv or jsonl")
    taxonomy = default_taxonomy()
    columns: dict[str, tuple[str, ...]] = {}
    for column, cats in dict(spec["columns"]).items():
        cats = (cats,) if isinstance(cats, str) else tuple(cats)
        for cat in cats:
            try:
                taxonomy.check_category(cat)
            except LineageError as exc:
                raise ConfigError(f"{where} column {column!r}: {exc}") from None
        columns[column] = cats
    shared = bool(spec.get("recipient"))
    defaults = Defaults(
        own_system=spec.get("system", "file-export"),
        recipient=spec.get("recipient", ""),
        recipient_role=spec.get("recipient_role", "processor"),
        recipient_country=spec.get("recipient_country"),
        purpose=spec["purpose"],
        legal_basis=spec["legal_basis"],
        data_subject=spec.get("data_subject", "customer"),
        retention=spec.get("retention"),
    )
    return Export(
        name,
        path,
        fmt,
        spec["id_column"],
        spec.get("updated_column"),
        dict(spec["identifiers"]),
        columns,
        frozenset(spec.get("ignore", ())),
        defaults,
        shared,
    )


def _rows(export: Export) -> Iterator[tuple[int, dict[str, Any]]]:
    try:
        fh = export.path.open(encoding="utf-8", newline="")
    except OSError as exc:
        raise ConfigError(f"files/{export.name}: cannot open {export.path}: {exc}") from None
    with fh:
        if export.format == "csv":
            reader = csv.DictReader(fh)
            _check_columns(export, list(reader.fieldnames or []), f"{export.path.name}:1")
            for lineno, row in enumerate(reader, start=2):
                yield lineno, row
            return
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError as exc:
                raise PayloadError(
                    "files", f"malformed JSON ({exc})", f"{export.path.name}:{lineno}"
                ) from None
            if not isinstance(row, dict):
                raise PayloadError("files", "not a JSON object", f"{export.path.name}:{lineno}")
            _check_columns(export, list(row), f"{export.path.name}:{lineno}")
            yield lineno, row


def _check_columns(export: Export, names: list[str], where: str) -> None:
    known = set(export.columns) | export.ignore | {export.id_column}
    known |= set(export.identifiers) | ({export.updated_column} if export.updated_column else set())
    extra = [n for n in names if n not in known]
    if extra:
        raise PayloadError(
            "files",
            f"column {extra[0]!r} is neither mapped to a category nor ignored "
            f"in [files.exports.{export.name}]",
            where,
        )


class FilesConnector(Connector):
    name = "files"
    title = "Files (CSV and JSON Lines exports with a declared column mapping)"
    config_class = FilesConfig
    config: FilesConfig

    def exports(self) -> list[Export]:
        base = self.home or Path(".")
        return [parse_export(n, s, base) for n, s in sorted(self.config.exports.items())]

    def resources(self) -> list[Resource]:
        return [self._resource(e) for e in self.exports()]

    def _resource(self, export: Export) -> Resource:
        def read(api: Api, since: Any, resume: Mapping[str, Any] | None) -> Iterator[Page]:
            chunk: list[dict[str, Any]] = []
            for lineno, row in _rows(export):
                chunk.append({**row, "_line": f"{export.path.name}:{lineno}"})
                if len(chunk) == PAGE:
                    yield Page(chunk)
                    chunk = []
            yield Page(chunk)

        def mapper(row: dict[str, Any], ctx: MappingContext) -> list[Event]:
            return map_row(export, row, ctx)

        updated = export.updated_column
        return Resource(
            export.name,
            read,
            key=lambda r: str(r[export.id_column]),
            map=mapper,
            cursor=(lambda r: m.required_time(r, updated)) if updated else None,
            cursor_kind="time" if updated else None,
            description=f"{export.format} export {export.path.name}",
        )


def map_row(export: Export, row: dict[str, Any], ctx: MappingContext) -> list[Event]:
    try:
        return _map_row(export, row, ctx)
    except (LineageError, KeyError, ValueError, TypeError) as exc:
        # Name the line as well as the id: people fix exports in a spreadsheet.
        raise ValueError(f"{row.get('_line')}: {exc}") from None


def _map_row(export: Export, row: dict[str, Any], ctx: MappingContext) -> list[Event]:
    local = MappingContext(ctx.source, ctx.pseudo, export.defaults)
    if export.updated_column:
        at = m.required_time(row, export.updated_column)
    else:
        raise ValueError("no updated_column declared: the export needs a timestamp column")
    key = str(row[export.id_column])
    ref, links = local.subject(
        [(kind, row.get(col)) for col, kind in export.identifiers.items()], at
    )
    cats: list[str] = []
    for column, categories in export.columns.items():
        if m.present(row.get(column)):
            cats += [c for c in categories if c not in cats]
    if not cats:
        return links
    version = iso(at)
    if export.shared:
        ids = (
            local.event_id(export.name, key, version, "shared"),
            local.event_id(export.name, key, version, "transferred"),
        )
        return [*links, *m.shared_events(local, ref, at, tuple(cats), ids)]
    event = m.collected(
        local, ref, at, tuple(cats), local.event_id(export.name, key, version, "collected")
    )
    return [*links, event]
