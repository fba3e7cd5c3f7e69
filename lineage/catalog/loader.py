"""Load a catalog file and report every problem in it with file:line:column.

Three passes, each collecting problems instead of stopping at the first:
1. YAML syntax (PyYAML's composer keeps the start mark of every node);
2. structure against the pydantic schema in ``catalog.model`` (unknown, missing and mistyped
   keys), each error's location mapped back to its node;
3. meaning: vocabularies, taxonomy keys (fideslang plus the catalog's own extensions),
   countries, retention rules, and references to holders.

YAML 1.1 reads ``NO`` (Norway) and ``yes`` as booleans; the loader accepts only ``true`` and
``false`` as booleans so country codes stay text.
"""

from __future__ import annotations

import hashlib
import re
import types
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from lineage.catalog.catalog import ART9_CONDITIONS, HOLDER_ROLES, Catalog
from lineage.catalog.model import CatalogDoc, Channel, TransferDecl
from lineage.catalog.retention import RetentionRule, parse_rule
from lineage.errors import InputError, TaxonomyError
from lineage.events import vocab
from lineage.events.taxonomy import Taxonomy, default_taxonomy, suggest
from lineage.events.validate import check_country
from lineage.i18n import LANGUAGES

Loc = tuple[str | int, ...]


class Problem(typing.NamedTuple):
    file: str
    line: int
    column: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.message}"


class CatalogError(InputError):
    """A catalog with problems. The message is the first; ``problems`` holds them all."""

    def __init__(self, problems: list[Problem]) -> None:
        more = len(problems) - 1
        tail = f" (and {more} more: run `lineage catalog validate`)" if more else ""
        super().__init__(f"{problems[0]}{tail}")
        self.problems = problems


class _Loader(yaml.SafeLoader):
    pass


# YAML 1.2 booleans only (see the module docstring).
_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


class _Nodes:
    """Maps a location (keys and indexes) to the YAML node it came from."""

    def __init__(self, root: yaml.Node) -> None:
        self.root = root

    def find(self, loc: Loc, *, key: bool = False) -> yaml.Node:
        node = self.root
        for i, part in enumerate(loc):
            last = i == len(loc) - 1
            if isinstance(node, yaml.MappingNode):
                for k, v in node.value:
                    if k.value == str(part):
                        node = k if (last and key) else v
                        break
                else:
                    return node
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
                if part >= len(node.value):
                    return node
                node = node.value[part]
            else:
                return node
        return node

    def duplicates(self) -> Iterator[tuple[yaml.Node, str]]:
        stack = [self.root]
        while stack:
            node = stack.pop()
            if isinstance(node, yaml.MappingNode):
                seen: set[str] = set()
                for k, v in node.value:
                    if isinstance(k, yaml.ScalarNode):
                        if k.value in seen:
                            yield k, k.value
                        seen.add(k.value)
                    stack.append(v)
            elif isinstance(node, yaml.SequenceNode):
                stack.extend(node.value)


class _Collector:
    def __init__(self, name: str, nodes: _Nodes | None) -> None:
        self.name = name
        self.nodes = nodes
        self.problems: list[Problem] = []

    def at_node(self, node: yaml.Node | None, message: str) -> None:
        mark = node.start_mark if node is not None else None
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        self.problems.append(Problem(self.name, line, col, message))

    def at(self, loc: Loc, message: str, *, key: bool = False, label: Loc | None = None) -> None:
        node = self.nodes.find(loc, key=key) if self.nodes else None
        label = loc if label is None else label
        self.at_node(node, f"{_dotted(label)}: {message}" if label else message)


def _dotted(loc: Loc) -> str:
    parts = (f"[{p}]" if isinstance(p, int) else (f".{p}" if i else p) for i, p in enumerate(loc))
    return "".join(parts)


def load_catalog(path: str | Path, *, check_taxonomy: bool = True) -> Catalog:
    """The catalog, or ``CatalogError`` listing every problem. ``check_taxonomy=False`` skips
    the fideslang key checks (which import fideslang) for read paths that trust a catalog
    already validated."""
    catalog, problems = check_catalog(path, check_taxonomy=check_taxonomy)
    if problems or catalog is None:
        raise CatalogError(problems)
    return catalog


def check_catalog(
    path: str | Path, *, check_taxonomy: bool = True
) -> tuple[Catalog | None, list[Problem]]:
    name = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return None, [Problem(name, 1, 1, f"cannot read catalog: {exc}")]
    return parse_catalog(text, name, check_taxonomy=check_taxonomy)


def parse_catalog(
    text: str, name: str = "<catalog>", *, check_taxonomy: bool = True
) -> tuple[Catalog | None, list[Problem]]:
    out = _Collector(name, None)
    try:
        loader = _Loader(text)
        try:
            root = loader.get_single_node()
            data = loader.construct_document(root) if root is not None else None
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = exc.problem or exc.context or "invalid YAML"
        return None, [Problem(name, line, col, f"YAML syntax: {problem}")]
    except yaml.YAMLError as exc:
        return None, [Problem(name, 1, 1, f"YAML syntax: {exc}")]
    if root is None or not isinstance(data, dict):
        out.at_node(root, "a catalog is a mapping with controller, holders and purposes")
        return None, out.problems
    out.nodes = _Nodes(root)
    for node, key in out.nodes.duplicates():
        out.at_node(node, f"duplicate key {key!r} (the later one would silently win)")
    try:
        doc = CatalogDoc.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors():
            _structure_problem(out, err)
        return None, out.problems
    taxonomy = _taxonomy(doc, out, check_taxonomy)
    rules = _semantics(doc, out, taxonomy)
    if out.problems:
        return None, sorted(out.problems, key=lambda p: (p.line, p.column))
    digest = hashlib.sha256(text.encode()).hexdigest()
    return Catalog(name, doc, rules, taxonomy, digest), []


def _structure_problem(out: _Collector, err: Any) -> None:
    loc: Loc = tuple(err["loc"])
    kind = err["type"]
    if kind == "extra_forbidden":
        allowed = _fields_at(loc[:-1])
        hint = suggest(str(loc[-1]), allowed)
        extra = f"; did you mean {hint[0]!r}?" if hint else ""
        listing = f" (known keys: {', '.join(sorted(allowed))})" if not hint and allowed else ""
        # Point at the key itself: that is what has to change.
        out.at(loc, f"unknown key {loc[-1]!r}{extra}{listing}", key=True, label=loc[:-1])
    elif kind == "missing":
        out.at(loc[:-1], f"missing required key {loc[-1]!r}")
    else:
        out.at(loc, f"{err['msg'][0].lower()}{err['msg'][1:]}")


def _fields_at(loc: Loc) -> set[str]:
    """The keys allowed at a location, from the schema's annotations."""
    kind: Any = CatalogDoc
    for part in loc:
        kind = _unwrap(kind)
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            field = kind.model_fields.get(str(part))
            kind = field.annotation if field else None
        else:
            args = typing.get_args(kind)
            kind = args[-1] if args else None
    kind = _unwrap(kind)
    if isinstance(kind, type) and issubclass(kind, BaseModel):
        return set(kind.model_fields)
    return set()


def _unwrap(kind: Any) -> Any:
    args = [a for a in typing.get_args(kind) if a is not type(None)]
    if typing.get_origin(kind) in (typing.Union, types.UnionType):
        models = [a for a in args if isinstance(a, type) and issubclass(a, BaseModel)]
        return models[0] if models else (args[0] if args else kind)
    return kind


def _taxonomy(doc: CatalogDoc, out: _Collector, check: bool) -> Taxonomy | None:
    ext = doc.taxonomy
    if not check:
        return None
    base = default_taxonomy()
    for section, known in (
        ("categories", base.categories),
        ("uses", base.uses),
        ("subjects", base.subjects),
    ):
        for i, custom in enumerate(getattr(ext, section)):
            if custom.key in known:
                out.at(
                    ("taxonomy", section, i, "key"),
                    f"{custom.key!r} is already a fideslang key: remove this extension",
                )
    for i, custom in enumerate(ext.categories):
        if custom.special not in (None, "art9", "art10"):
            out.at(
                ("taxonomy", "categories", i, "special"),
                f"special must be art9 or art10, not {custom.special!r}",
            )
    return base.extended(
        (c.key for c in ext.categories), (u.key for u in ext.uses), (s.key for s in ext.subjects)
    )


def _one_of(
    out: _Collector, loc: Loc, value: str | None, allowed: tuple[str, ...], kind: str
) -> None:
    if value is None or value in allowed:
        return
    hint = suggest(value, allowed)
    extra = f"; did you mean {hint[0]!r}?" if hint else f"; expected one of {', '.join(allowed)}"
    out.at(loc, f"unknown {kind} {value!r}{extra}")


def _tax(out: _Collector, loc: Loc, check: Any, key: str) -> None:
    try:
        check(key)
    except TaxonomyError as exc:
        hint = f"; did you mean {exc.suggestions[0]!r}?" if exc.suggestions else ""
        section = _SECTIONS[exc.kind]
        out.at(loc, f"unknown {exc.kind} {key!r}{hint} (or declare it under taxonomy.{section})")


_SECTIONS = {"data category": "categories", "data use": "uses", "data subject": "subjects"}


def _country(out: _Collector, loc: Loc, value: str | None) -> None:
    if value is None:
        return
    try:
        check_country(value)
    except InputError as exc:
        out.at(loc, exc.problem)


def _holder_ref(out: _Collector, doc: CatalogDoc, loc: Loc, name: str) -> bool:
    if name in doc.holders:
        return True
    hint = suggest(name, doc.holders)
    extra = f"did you mean {hint[0]!r}? or " if hint else ""
    out.at(loc, f"unknown holder {name!r}: {extra}declare it under holders")
    return False


def _transfers(out: _Collector, doc: CatalogDoc, base: Loc, transfers: list[TransferDecl]) -> None:
    for i, t in enumerate(transfers):
        loc = (*base, "transfers", i)
        _holder_ref(out, doc, (*loc, "recipient"), t.recipient)
        _country(out, (*loc, "country"), t.country)
        _one_of(out, (*loc, "mechanism"), t.mechanism, vocab.MECHANISMS, "transfer mechanism")


def _semantics(doc: CatalogDoc, out: _Collector, tax: Taxonomy | None) -> dict[str, RetentionRule]:
    _country(out, ("controller", "country"), doc.controller.country)
    if not re.fullmatch(
        r"(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])", doc.controller.financial_year_end
    ):
        out.at(("controller", "financial_year_end"), "write the last day as MM-DD, e.g. 12-31")
    for name, h in doc.holders.items():
        loc: Loc = ("holders", name)
        _one_of(out, (*loc, "role"), h.role, HOLDER_ROLES, "holder role")
        _country(out, (*loc, "country"), h.country)
        if h.transfer:
            mloc = (*loc, "transfer", "mechanism")
            _one_of(out, mloc, h.transfer.mechanism, vocab.MECHANISMS, "transfer mechanism")
        for i, sub in enumerate(h.sub_processors):
            _holder_ref(out, doc, (*loc, "sub_processors", i), sub)
        if h.channel is not None:
            _channel(out, (*loc, "channel"), h.channel, h.eraser)
    rules: dict[str, RetentionRule] = {}
    for pid, p in doc.purposes.items():
        loc = ("purposes", pid)
        _one_of(out, (*loc, "legal_basis"), p.legal_basis, vocab.LEGAL_BASES, "legal basis")
        _one_of(
            out, (*loc, "art9_condition"), p.art9_condition, ART9_CONDITIONS, "Art. 9 condition"
        )
        if tax is not None:
            _tax(out, (*loc, "data_use"), tax.check_use, p.data_use)
            for i, s in enumerate(p.data_subjects):
                _tax(out, (*loc, "data_subjects", i), tax.check_subject, s)
            for i, c in enumerate(p.categories):
                _tax(out, (*loc, "categories", i), tax.check_category, c)
        try:
            rules[pid] = parse_rule(p.retention)
        except InputError as exc:
            out.at((*loc, "retention", *([exc.where] if exc.where else [])), exc.problem)
        for i, system in enumerate(p.systems):
            known = _holder_ref(out, doc, (*loc, "systems", i), system)
            if known and doc.holders[system].role != "own":
                problem = f"{system!r} is a recipient, not an own system: list it under recipients"
                out.at((*loc, "systems", i), problem)
        for i, r in enumerate(p.recipients):
            _holder_ref(out, doc, (*loc, "recipients", i), r)
        _transfers(out, doc, loc, p.transfers)
    for i, act in enumerate(doc.processor_activities):
        loc = ("processor_activities", i)
        for j, sub in enumerate(act.sub_processors):
            _holder_ref(out, doc, (*loc, "sub_processors", j), sub)
        _transfers(out, doc, loc, act.transfers)
        if tax is not None:
            for j, c in enumerate(act.categories):
                _tax(out, (*loc, "categories", j), tax.check_category, c)
    return rules


CHANNEL_KINDS = ("api", "email", "webhook", "manual")


def _channel(out: _Collector, loc: Loc, ch: Channel, eraser: str | None) -> None:
    """A channel names what its kind needs, and no secret itself."""
    _one_of(out, (*loc, "kind"), ch.kind, CHANNEL_KINDS, "channel")
    if ch.lang not in LANGUAGES:
        out.at(
            (*loc, "lang"), f"unknown language {ch.lang!r}; expected one of {', '.join(LANGUAGES)}"
        )
    if ch.kind == "api" and not eraser:
        out.at((*loc, "kind"), "an api channel needs the holder's eraser (a connector name)")
    if ch.kind == "email" and not (
        ch.email and re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", ch.email)
    ):
        out.at((*loc, "email"), "an email channel needs the privacy contact's address")
    if ch.kind == "webhook":
        url = ch.url or ""
        if not (url.startswith("https://") or _loopback(url)):
            out.at(
                (*loc, "url"), "a webhook channel needs an https:// URL (http only on 127.0.0.1)"
            )
        if bool(ch.secret_env) == bool(ch.secret_file):
            out.at(loc, "a webhook channel names its signing secret by secret_env or secret_file")
    if ch.secret_file and (ch.secret_file.startswith("/") or ".." in ch.secret_file.split("/")):
        out.at((*loc, "secret_file"), "secret_file is a path inside the lineage home")


def _loopback(url: str) -> bool:
    from urllib.parse import urlsplit

    return url.startswith("http://") and urlsplit(url).hostname in ("127.0.0.1", "localhost", "::1")
