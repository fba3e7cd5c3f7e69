"""OpenLineage run events from a pipeline, read as suggestions for the catalog.

A dbt, Airflow or Spark run that copies a table holding personal data somewhere says that
data moved; it names no person, so it can never become a subject event. What it can do is
show the catalog what it does not declare yet:

- a **holder**: a dataset holding personal data at a place the catalog does not know;
- a **flow**: personal data moving between holders with no purpose declaring the target for
  those categories (by the catalog's own ``reach_of`` and ``declares_category``; with a
  ``data_use`` tag on the job, by the one matching rule ``purposes_for``);
- a **transfer**: the target is outside the EEA (``rules.transfers``) and no tool is declared.

Which datasets hold personal data, and which categories, is read from their ``tags`` facet
(a fideslang category as a tag's value, or ``pii``/``personal_data`` true: categories
unknown) or from lineage's own ``lineage_personalData`` facet. The holder is a ``holder``
tag, else the namespace's host or bucket (``postgres://webshop-db:5432`` -> ``webshop-db``);
the country a ``country`` tag, else a cloud region in the namespace or name.
"""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, ValidationError

from lineage.catalog.fides_terms import (
    PLACEHOLDER_BASIS,
    PLACEHOLDER_RETENTION,
    commented_yaml,
    slug,
)
from lineage.errors import InputError
from lineage.resources import data_file
from lineage.rules.transfers import in_eea, tool_for, validity
from lineage.timeutil import parse_time

if TYPE_CHECKING:
    from lineage.catalog.catalog import Catalog

_PERSONAL_FLAGS = {"pii", "personal_data", "gdpr", "contains_pii"}
_TRUE = {"true", "yes", "1", "y"}
PLACEHOLDER_ROLE = "processor"  # OpenLineage says where data is, not who runs the place


class _Loose(BaseModel):
    model_config = ConfigDict(extra="allow")


class _Named(_Loose):
    namespace: str
    name: str


class _Dataset(_Named):
    facets: dict[str, Any] = {}


class _RunId(_Loose):
    runId: str


class _Job(_Named):
    facets: dict[str, Any] = {}


class _RunEvent(_Loose):
    """What lineage reads of a run event (spec 2-0-2's required fields and the datasets)."""

    eventTime: str
    producer: str
    schemaURL: str
    eventType: str | None = None
    run: _RunId
    job: _Job
    inputs: list[_Dataset] = []
    outputs: list[_Dataset] = []


@dataclass
class Event:
    where: str
    event: _RunEvent


def read_events(text: str, name: str) -> list[Event]:
    """Run events from JSON Lines, a JSON array or one JSON object; each bad one is an
    ``InputError`` naming ``file:line``."""
    stripped = text.strip()
    if not stripped:
        raise InputError("no OpenLineage events (the input is empty)", f"{name}:1")
    items: list[tuple[int, Any]] = []
    try:
        whole = json.loads(stripped)
        items = list(enumerate(whole, 1)) if isinstance(whole, list) else [(1, whole)]
        lines = False
    except json.JSONDecodeError as exc:
        if exc.msg != "Extra data":
            raise InputError(
                f"not valid JSON: {exc.msg} (column {exc.colno})", f"{name}:{exc.lineno}"
            ) from None
        lines = True
    if lines:
        for n, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                items.append((n, json.loads(line)))
            except json.JSONDecodeError as exc:
                raise InputError(
                    f"not valid JSON: {exc.msg} (column {exc.colno})", f"{name}:{n}"
                ) from None
    out = []
    for n, item in items:
        where = f"{name}:{n}" if lines or len(items) == 1 else f"{name}: event {n}"
        out.append(Event(where, _run_event(item, where)))
    return out


def _run_event(item: Any, where: str) -> _RunEvent:
    if not isinstance(item, dict) or "run" not in item:
        kind = (
            "a dataset or job event"
            if isinstance(item, dict) and ("dataset" in item or "job" in item)
            else "an object"
        )
        raise InputError(f"not an OpenLineage run event ({kind} without 'run')", where)
    try:
        event = _RunEvent.model_validate(item)
        parse_time(event.eventTime)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        raise InputError(
            f"not an OpenLineage run event: {loc}: {err['msg'].lower()}", where
        ) from None
    except InputError as exc:
        raise InputError(f"not an OpenLineage run event: eventTime: {exc.problem}", where) from None
    return event


@cache
def _regions() -> list[tuple[re.Pattern[str], str]]:
    with open(data_file("cloud_regions.csv"), newline="") as fh:
        return [(re.compile(rf"(?<![a-z0-9]){re.escape(r['region'])}(?![a-z0-9])"), r["country"])
                for r in csv.DictReader(fh)]  # fmt: skip


@dataclass
class Place:
    """A dataset as lineage reads it: where (holder, country) and which categories."""

    dataset: str
    holder: str
    country: str | None
    categories: list[str]
    personal: bool
    subjects: bool = False  # the data subjects themselves (lineage's own export), not a holder


def _tags(facets: dict[str, Any]) -> list[dict[str, Any]]:
    tags = (facets.get("tags") or {}).get("tags") or []
    return [t for t in tags if isinstance(t, dict) and "key" in t and "value" in t]


def _place(d: _Dataset, known: set[str], is_category: Any) -> Place:
    tags = _tags(d.facets)
    own = d.facets.get("lineage_personalData") or {}
    cats = [str(c) for c in own.get("categories") or []]
    cats += [str(t["value"]) for t in tags if is_category(str(t["value"]))]
    flagged = any(
        str(t["key"]).lower() in _PERSONAL_FLAGS and str(t["value"]).lower() in _TRUE for t in tags
    )
    by_tag = {str(t["key"]).lower(): str(t["value"]) for t in tags}
    holder = own.get("holder") or by_tag.get("holder") or _holder_of(d.namespace, d.name, known)
    country = own.get("country") or (by_tag.get("country") or "").upper() or _country_of(d)
    return Place(
        f"{d.namespace}/{d.name}", holder, country, list(dict.fromkeys(cats)),
        flagged or bool(cats), "data_subject" in by_tag,
    )  # fmt: skip


def _holder_of(namespace: str, name: str, known: set[str]) -> str:
    parts = urlsplit(namespace if "://" in namespace else f"{namespace}://")
    host = (parts.hostname or parts.scheme or namespace).split(".")[0]
    if parts.scheme in ("s3", "s3a", "gs", "abfss", "wasbs", "file") or not host:
        host = host or name.strip("/").split("/")[0]
    for candidate in (host, f"{host}-{parts.scheme}", parts.scheme):
        if candidate in known:
            return candidate
    return slug(host) or "unknown"


def _country_of(d: _Dataset) -> str | None:
    text = f"{d.namespace} {d.name} {json.dumps(d.facets.get('storage') or {})}".lower()
    for pattern, country in _regions():
        if pattern.search(text):
            return country
    return None


@dataclass
class Suggestion:
    kind: str  # holder, flow, transfer
    holder: str
    detail: str
    evidence: dict[str, Any]
    source: str | None = None
    categories: list[str] = field(default_factory=list)
    country: str | None = None
    purposes: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {k: v for k, v in vars(self).items()}


@dataclass
class Suggestions:
    source: str
    suggestions: list[Suggestion]
    fragment: dict[str, Any]

    def yaml(self) -> str:
        head = [f"Catalog suggestions from the OpenLineage run events in {self.source}."]
        if not self.suggestions:
            head.append("The catalog declares every holder and flow they show.")
            return commented_yaml(head, {})
        head.append(
            f"Review ({len(self.suggestions)}), then merge what is right into lineage.yaml:"
        )
        head += [f"  {s.kind} {s.holder}: {s.detail}" for s in self.suggestions]
        return commented_yaml(head, self.fragment)

    def as_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "suggestions": [s.as_json() for s in self.suggestions],
            "catalog": self.fragment,
        }


class _Suggester:
    def __init__(self, catalog: Catalog | None) -> None:
        from lineage.events.taxonomy import default_taxonomy

        self.catalog = catalog
        taxonomy = catalog.taxonomy if catalog and catalog.taxonomy else default_taxonomy()
        self.is_category = lambda key: key in taxonomy.categories
        self.known = set(catalog.holders) if catalog else set()
        self.found: dict[tuple[str, str, str | None], Suggestion] = {}
        self.fragment: dict[str, Any] = {}

    def matching(self, target: str, cats: list[str], use: str | None) -> list[str]:
        """Purposes the flow would belong to: by the one matching rule when the job names its
        data use, else every purpose; either way only those declaring its categories."""
        c = self.catalog
        if c is None:
            return []
        if use:
            each: list[str | None] = [*cats] or [None]
            pids = {p for cat in each for p in c.purposes_for(use, target, cat)}
        else:
            pids = set(c.purposes)
        return sorted(p for p in pids if all(c.declares_category([p], cat) for cat in cats))

    def declared(self, source: str, target: str, cats: list[str], use: str | None) -> list[str]:
        """Purposes that already declare this flow: the target in their reach, and the source
        too unless they name no system of their own."""
        c = self.catalog
        if c is None:
            return []
        return [
            p for p in self.matching(target, cats, use)
            if target in c.reach_of(p) and (source in c.reach_of(p) or not c.purposes[p].systems)
        ]  # fmt: skip

    def candidates(self, source: str, target: str, cats: list[str], use: str | None) -> list[str]:
        """Purposes the flow probably belongs to: matching ones that reach its source."""
        c = self.catalog
        return [p for p in self.matching(target, cats, use) if c and source in c.reach_of(p)]

    def add(self, s: Suggestion) -> None:
        self.found.setdefault((s.kind, s.holder, s.source), s)

    def event(self, e: Event) -> None:
        ev = e.event
        tags = {str(t["key"]).lower(): str(t["value"]) for t in _tags(ev.job.facets)}
        use = tags.get("data_use") or (ev.job.facets.get("lineage_purpose") or {}).get("dataUse")
        ins = [_place(d, self.known, self.is_category) for d in ev.inputs]
        outs = [_place(d, self.known, self.is_category) for d in ev.outputs]
        personal_in = [p for p in ins if p.personal and not p.subjects]
        evidence = {"where": e.where, "job": f"{ev.job.namespace}/{ev.job.name}",
                    "run": ev.run.runId, "eventTime": ev.eventTime}  # fmt: skip
        for out in outs:
            sources = [p for p in personal_in if p.holder != out.holder]
            if not (out.personal or sources):
                continue
            cats = out.categories or sorted({c for p in sources for c in p.categories})
            froms: list[Place | None] = [*sources] or [None]
            for src in froms:
                self.target(out, src, cats, use, {**evidence, "dataset": out.dataset}, ev.eventTime)

    def target(
        self, out: Place, src: Place | None, cats: list[str], use: str | None,
        evidence: dict[str, Any], at: str,
    ) -> None:  # fmt: skip
        c = self.catalog
        cat_text = ", ".join(cats) or "personal data (categories not tagged)"
        if out.holder not in self.known:
            where = f"in {out.country}" if out.country else "country unknown"
            detail = f"holds {cat_text} ({where}), seen at {out.dataset}"
            self.add(Suggestion("holder", out.holder, detail, evidence, None, cats, out.country))
        if src is None or src.holder == out.holder:
            return
        declared = self.declared(src.holder, out.holder, cats, use)
        if not declared:
            purposes = self.candidates(src.holder, out.holder, cats, use)
            self.add(Suggestion(
                "flow", out.holder,
                f"{cat_text} from {src.holder}, which no purpose declares"
                + (f" (likely {', '.join(purposes)})" if purposes else ""),
                evidence, src.holder, cats, out.country, purposes,
            ))  # fmt: skip
        if out.country and not in_eea(out.country, parse_time(at).date()):
            tool = tool_for(c, out.holder, use, None)
            when = parse_time(at)
            v = validity(tool, out.country, when, when)
            # Only a missing tool is for the catalog; a declared one gone invalid is the audit's.
            if tool in (None, "none"):
                self.add(Suggestion("transfer", out.holder,
                                    f"{cat_text} left the EEA to {out.country}: {v.reason}",
                                    evidence, src.holder, cats, out.country, declared))  # fmt: skip

    def build(self) -> dict[str, Any]:
        holders: dict[str, Any] = {}
        purposes: dict[str, Any] = {}
        for s in self.found.values():
            if s.kind == "holder":
                entry: dict[str, Any] = {"role": PLACEHOLDER_ROLE, "country": s.country or "XX"}
                entry["description"] = f"Suggested from OpenLineage: {s.evidence['dataset']}"
                holders[s.holder] = entry
            elif s.kind == "transfer":
                holder = holders.get(s.holder)
                if holder is not None:
                    holder["transfer"] = {"mechanism": "none"}
                for pid in s.purposes:
                    purposes.setdefault(pid, {}).setdefault("transfers", []).append(
                        {"recipient": s.holder}
                    )
            elif s.kind == "flow":
                # One likely purpose gets the recipient; several or none: a stub to complete.
                stub = f"suggested-{slug(s.evidence['job'])}"
                for pid in s.purposes if len(s.purposes) == 1 else [stub]:
                    p = purposes.setdefault(pid, {})
                    if pid not in (self.catalog.purposes if self.catalog else {}):
                        p.update(
                            name=f"Suggested from the job {s.evidence['job']}",
                            data_use="essential", legal_basis=PLACEHOLDER_BASIS,
                            data_subjects=["customer"], categories=s.categories or ["user"],
                            retention=PLACEHOLDER_RETENTION,
                        )  # fmt: skip
                    p.setdefault("recipients", []).append(s.holder)
                    if s.country and not in_eea(
                        s.country, parse_time(s.evidence["eventTime"]).date()
                    ):
                        p.setdefault("transfers", []).append({"recipient": s.holder})
        for p in purposes.values():
            for key in ("recipients", "transfers"):
                if key in p:
                    p[key] = list({json.dumps(v): v for v in p[key]}.values())
        out: dict[str, Any] = {}
        if holders:
            out["holders"] = holders
        if purposes:
            out["purposes"] = purposes
        return out


def suggest(events: list[Event], catalog: Catalog | None, source: str = "") -> Suggestions:
    s = _Suggester(catalog)
    for e in events:
        s.event(e)
    name = source or (events[0].where.split(":")[0] if events else "")
    return Suggestions(name, list(s.found.values()), s.build())


__all__ = ["Suggestions", "read_events", "suggest"]
