"""The data map: holders and the flows between them, as a Graphviz picture.

The model (``DataMap``) is built by ``services.datamap`` from the events (and the catalog);
this module only draws it. Layout is left to right, from the data subjects through the own
systems to recipients and their onward recipients. Countries outside the EEA are clusters with
an orange frame, invalid transfers are red, flows that the catalog declares but no event shows
are dashed. Edges between the same two holders are one edge: the picture stays legible with
thousands of events, and the SVG tooltips carry the detail.

Every text in the picture is in the reader's language (``to_dot(m, lang)``): the words
through the gettext catalog, the rules' reasons rendered from their parts, country names from
Babel's locale data. Keys (categories, purposes, transfer tools) stay keys.

DOT is built with the ``graphviz`` package (no binary needed); SVG and PNG need Graphviz's
``dot`` program.
"""

from __future__ import annotations

import html
import shutil
from dataclasses import asdict, dataclass, field
from datetime import datetime
from functools import cache, lru_cache
from typing import Any

from lineage.errors import ConfigError, LineageError
from lineage.i18n import N_, NP_, gettext, ngettext
from lineage.rules.reasons import Text, english, to_json
from lineage.services import plain

FORMATS = ("svg", "png", "dot")

# Fill colour and readable name per kind of holder.
KINDS: dict[str, tuple[str, str]] = {
    "subject": ("#eeeeee", N_("data subjects")),
    "own": ("#cfe2f3", N_("own system")),
    "processor": ("#fff2cc", N_("processor")),
    "sub_processor": ("#fcf8ea", N_("sub-processor")),
    "controller": ("#ead1dc", N_("controller")),
    "joint_controller": ("#ead1dc", N_("joint controller")),
    "public_authority": ("#d9ead3", N_("public authority")),
    "unknown": ("#ffffff", N_("role unknown")),
}
OUTSIDE_EEA = N_("outside the EEA")
OUTSIDE = "#e69138"  # countries outside the EEA
OUTSIDE_FILL = "#fdf0e2"
INVALID = "#cc0000"
FLOW = "#555555"
DECLARED = "#999999"
FONT = "Helvetica"


@dataclass
class MapNode:
    name: str
    kind: str
    label: str | None = None  # display name (the catalog's), when it differs from the key
    country: str | None = None
    outside_eea: bool = False
    declared: bool | None = None  # None: no catalog to say; False: not in the catalog
    status: str | None = None  # one subject's map: held, erased, erasure_pending, ...
    notes: list[str] = field(default_factory=list)


@dataclass
class MapEdge:
    source: str
    target: str
    categories: list[str] = field(default_factory=list)
    legal_bases: list[str] = field(default_factory=list)
    purposes: list[str] = field(default_factory=list)
    observed: bool = True
    subjects: int | None = None
    events: int = 0
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    mechanisms: list[str] = field(default_factory=list)  # tools of transfers outside the EEA
    # Why a transfer on this edge is invalid: the rules' texts, rendered where they are shown.
    invalid: list[Text] = field(default_factory=list)
    invalid_subjects: int | None = None
    sub_processing: bool = False  # declared as the source's sub-processor (no purpose of its own)


@dataclass
class DataMap:
    as_of: datetime
    subject: str | None = None  # one person's map: the start of their subject reference
    nodes: dict[str, MapNode] = field(default_factory=dict)
    edges: list[MapEdge] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.edges

    def title(self, lang: str = "en") -> str:
        _ = gettext(lang)
        if self.subject:
            return _("Data map of subject %(ref)s…") % {"ref": self.subject}
        return _("Data map")

    def to_json(self) -> dict[str, Any]:
        """English texts and the reasons' parts, as all of lineage's JSON."""
        return {
            "title": self.title(),
            "as_of": self.as_of.isoformat(),
            "nodes": [asdict(n) for n in self.nodes.values()],
            "edges": [
                {
                    **asdict(e),
                    "invalid": [english(t) for t in e.invalid],
                    "invalid_parts": [to_json(t) for t in e.invalid],
                }
                for e in self.edges
            ],
        }


# -- labels -------------------------------------------------------------------------------


def compact_categories(
    categories: list[str], groups: int = 4, width: int = 42, lang: str = "en"
) -> list[str]:
    """fideslang keys as short lines: ``user.contact.email`` and ``user.contact.phone_number``
    become ``contact: email, phone_number``; deeper keys fold into their second level."""
    grouped: dict[str, list[str]] = {}
    for key in categories:
        parts = key.split(".")
        if parts[0] == "user" and len(parts) > 1:
            parts = parts[1:]
        items = grouped.setdefault(parts[0], [])
        if len(parts) > 1 and parts[1] not in items:
            items.append(parts[1])
    lines = []
    for head, items in list(grouped.items())[:groups]:
        line = f"{head}: {', '.join(items)}" if items else head
        lines.append(line if len(line) <= width else line[: width - 1] + "…")
    if len(grouped) > groups:
        _ = gettext(lang)
        lines.append(_("+%(num)s more") % {"num": _number(len(grouped) - groups, lang)})
    return lines


# Past this many edges, labels name category groups only (details stay in the tooltips):
# a company-wide map of many systems and recipients otherwise grows metres tall.
DENSE = 20


@lru_cache(maxsize=4096)  # Babel's formatting costs more than the rest of a label
def _number(n: int, lang: str) -> str:
    from babel.numbers import format_decimal

    return format_decimal(n, locale=lang)


def _edge_label(e: MapEdge, lang: str, dense: bool = False) -> str:
    _ = gettext(lang)
    if dense:
        heads = compact_categories(e.categories, groups=99, width=999, lang=lang)
        text = ", ".join(h.split(":")[0] for h in heads)
        lines = [text if len(text) <= 44 else text[:43] + "…"] if text else []
    else:
        lines = compact_categories(e.categories, lang=lang)
    if e.legal_bases:
        # The bases' short names, lower case as the rest of the line.
        bases = ", ".join(plain.basis_name(b, lang).lower() for b in e.legal_bases)
        lines.append(_("basis: %(bases)s") % {"bases": bases})
    if e.invalid:
        reason = plain.text(e.invalid[0], lang)
        lines.append(_("INVALID transfer: %(reason)s") % {"reason": reason})
    elif e.mechanisms:
        lines.append(_("transfer tool: %(tools)s") % {"tools": ", ".join(e.mechanisms)})
    if not e.observed:
        lines.append(_("declared, never observed"))
    elif e.subjects is not None:
        count = ngettext(lang)(*NP_("%(num)s subject", "%(num)s subjects"), e.subjects)
        lines.append(count % {"num": _number(e.subjects, lang)})
    return "".join(_dot_text(line) + "\\l" for line in lines)


def _edge_tooltip(e: MapEdge, names: dict[str, str], lang: str) -> str:
    _ = gettext(lang)
    lines = [f"{names[e.source]} → {names[e.target]}"]
    lines.append(_("categories: %(keys)s") % {"keys": ", ".join(e.categories) or "-"})
    lines.append(_("purposes: %(keys)s") % {"keys": ", ".join(e.purposes) or "-"})
    if e.sub_processing:
        lines.append(_("sub-processor of %(holder)s") % {"holder": names[e.source]})
    lines.append(_("legal bases: %(keys)s") % {"keys": ", ".join(e.legal_bases) or "-"})
    if e.observed:
        events = ngettext(lang)(*NP_("%(num)s event", "%(num)s events"), e.events)
        line = events % {"num": _number(e.events, lang)}
        if e.first_seen and e.last_seen:
            line += ", " + _("%(first)s to %(last)s") % {
                "first": f"{e.first_seen:%Y-%m-%d}",
                "last": f"{e.last_seen:%Y-%m-%d}",
            }
        lines.append(line)
    else:
        lines.append(_("declared in the catalog; no event shows this flow"))
    lines += [_("invalid: %(reason)s") % {"reason": plain.text(t, lang)} for t in e.invalid]
    return _dot_text("\n".join(lines)).replace("\n", "&#10;")


def _dot_text(text: str) -> str:
    # Backslashes would start DOT escapes (\n, \l, \N): keep them literal.
    return text.replace("\\", "\\\\")


def _name(n: MapNode, lang: str) -> str:
    """The catalog's name of a holder, or its key; the subjects' node in the reader's words."""
    if n.kind == "subject":
        return gettext(lang)(n.label or KINDS["subject"][1])
    return n.label or n.name


def _node_label(n: MapNode, lang: str) -> str:
    """HTML-like label: the name in bold, then role and country, then notes."""
    _ = gettext(lang)
    name = html.escape(_name(n, lang))
    kind = _(KINDS.get(n.kind, KINDS["unknown"])[1])
    detail = kind + (f" · {n.country}" if n.country else "")
    rows = [f"<b>{name}</b>"]
    if n.kind != "subject":
        rows.append(f'<font point-size="9">{html.escape(detail)}</font>')
    if n.declared is False and n.kind != "subject":
        missing = html.escape(_("not in the catalog"))
        rows.append(f'<font point-size="9" color="{INVALID}">{missing}</font>')
    if n.label and n.label != n.name and n.kind != "subject":
        rows.insert(1, f'<font point-size="8" color="#666666">{html.escape(n.name)}</font>')
    if n.status and n.status != "held":
        status = html.escape(plain.status(n.status, lang))
        rows.append(f'<font point-size="9" color="#990000">{status}</font>')
    rows += [f'<font point-size="8">{html.escape(note)}</font>' for note in n.notes]
    return "<" + "<br/>".join(rows) + ">"


def _legend(m: DataMap, lang: str) -> str:
    _ = gettext(lang)

    def swatch(colour: str, text: str) -> str:
        return (
            f'<td bgcolor="{colour}" border="1">&#160;&#160;&#160;</td>'
            f'<td align="left">{html.escape(text)}</td>'
        )

    # Only what the picture shows: a legend of absent things is noise.
    present = {n.kind for n in m.nodes.values()}
    present |= {"controller"} if "joint_controller" in present else set()
    kinds = ("own", "processor", "sub_processor", "controller", "public_authority", "unknown")
    both = f"{_(KINDS['controller'][1])}, {_(KINDS['joint_controller'][1])}"
    cells = [
        swatch(KINDS[k][0], both if k == "controller" else _(KINDS[k][1]))
        for k in kinds
        if k in present
    ]
    if any(n.outside_eea for n in m.nodes.values()):
        cells.append(swatch(OUTSIDE_FILL, _(OUTSIDE_EEA)))
    line = '<td><font color="{}"><b>{}</b></font></td><td align="left">{}</td>'
    lines = line.format(FLOW, "——", html.escape(_("observed flow")))
    if any(e.invalid for e in m.edges):
        lines += line.format(INVALID, "——", html.escape(_("invalid transfer")))
    if any(e.mechanisms and not e.invalid for e in m.edges):
        lines += line.format(OUTSIDE, "——", html.escape(_("transfer with a valid tool")))
    if any(not e.observed for e in m.edges):
        lines += line.format(DECLARED, "- - -", html.escape(_("declared, never observed")))
    return (
        '<table border="0" cellspacing="3" cellpadding="1">'
        f"<tr>{''.join(cells)}</tr></table>"
        f'</td></tr><tr><td align="left"><table border="0" cellspacing="3" cellpadding="1">'
        f"<tr>{lines}</tr></table>"
    )


# -- DOT ----------------------------------------------------------------------------------


def to_dot(m: DataMap, lang: str = "en") -> str:
    """The DOT source of the map, its texts in ``lang``."""
    import graphviz

    _ = gettext(lang)
    ids = {name: f"n{i}" for i, name in enumerate(m.nodes)}
    names = {name: _name(n, lang) for name, n in m.nodes.items()}
    title = html.escape(
        _("%(title)s — as of %(time)s UTC")
        % {"title": m.title(lang), "time": f"{m.as_of:%Y-%m-%d %H:%M}"}
    )
    g = graphviz.Digraph("datamap")
    g.attr(
        rankdir="LR",
        fontname=FONT,
        nodesep="0.3",
        ranksep="0.9",
        labelloc="t",
        labeljust="l",
        label=(
            '<<table border="0" cellpadding="2"><tr><td align="left">'
            f'<font point-size="16"><b>{title}</b></font></td></tr>'
            f'<tr><td align="left">{_legend(m, lang)}</td></tr></table>>'
        ),
        newrank="true",
    )
    g.attr(
        "node",
        shape="box",
        style="rounded,filled",
        fontname=FONT,
        fontsize="11",
        margin="0.15,0.06",
    )
    g.attr("edge", fontname=FONT, fontsize="9", color=FLOW, fontcolor="#333333", arrowsize="0.7")

    clusters: dict[str, list[str]] = {}
    for name, n in m.nodes.items():
        if n.outside_eea and n.country:
            clusters.setdefault(n.country, []).append(name)

    def add(target: Any, name: str) -> None:
        n = m.nodes[name]
        fill = KINDS.get(n.kind, KINDS["unknown"])[0]
        attrs = {
            "label": _node_label(n, lang),
            "fillcolor": fill,
            "tooltip": _dot_text(names[name]),
        }
        if n.kind == "subject":
            attrs["shape"] = "ellipse"
            attrs["style"] = "filled"
        if n.outside_eea:
            attrs.update(color=OUTSIDE, penwidth="2")
        if n.status and n.status == "erased":
            attrs.update(fillcolor="#f3f3f3", fontcolor="#777777")
        target.node(ids[name], **attrs)

    for name in m.nodes:
        if not any(name in members for members in clusters.values()):
            add(g, name)
    for country, members in sorted(clusters.items()):
        with g.subgraph(name=f"cluster_{country}") as c:
            c.attr(
                label=(
                    f"<<b>{html.escape(country_name(country, lang))}</b>"
                    f" — {html.escape(_(OUTSIDE_EEA))}>"
                ),
                style="rounded,filled,dashed",
                color=OUTSIDE,
                fillcolor=OUTSIDE_FILL,
                fontcolor="#9a4f06",
                fontsize="11",
                penwidth="1.5",
            )
            for name in members:
                add(c, name)

    dense = len(m.edges) > DENSE
    for e in m.edges:
        tooltip = _edge_tooltip(e, names, lang)
        attrs = {"label": _edge_label(e, lang, dense), "tooltip": tooltip, "labeltooltip": tooltip}
        if e.invalid:
            attrs.update(color=INVALID, fontcolor=INVALID, penwidth="2.5")
        elif e.mechanisms:
            attrs.update(color=OUTSIDE, penwidth="1.6")
        if not e.observed:
            attrs.update(style="dashed", color=DECLARED, fontcolor="#777777")
        g.edge(ids[e.source], ids[e.target], **attrs)
    return g.source


@cache
def _territories(lang: str) -> dict[str, str]:
    from babel import Locale

    return dict(Locale.parse(lang).territories)


def country_name(code: str, lang: str = "en") -> str:
    """A country's name in ``lang`` (CLDR's, through Babel) with its code; the code alone
    when CLDR has no name for it."""
    name = _territories(lang).get(code.upper())
    return f"{name} ({code})" if name else code


def render(source: str, fmt: str) -> bytes:
    """The picture in ``fmt``: DOT source as is, SVG/PNG through Graphviz's ``dot``."""
    if fmt not in FORMATS:
        raise ConfigError(f"unknown map format {fmt!r}: use one of {', '.join(FORMATS)}")
    if fmt == "dot":
        return source.encode("utf-8")
    if shutil.which("dot") is None:
        raise ConfigError(
            f"drawing {fmt} needs Graphviz's `dot` program: install Graphviz "
            "(Debian/Ubuntu: apt-get install graphviz; macOS: brew install graphviz), "
            "or use --format dot"
        )
    import graphviz

    try:
        data: bytes = graphviz.pipe("dot", fmt, source.encode("utf-8"), quiet=True)
    except graphviz.ExecutableNotFound:
        raise ConfigError(
            f"drawing {fmt} needs Graphviz's `dot` program: install Graphviz, or use --format dot"
        ) from None
    except graphviz.CalledProcessError as exc:
        detail = (exc.stderr or b"").decode("utf-8", "replace").strip().splitlines()
        raise LineageError(
            f"Graphviz could not draw the map: {detail[0] if detail else exc}"
        ) from None
    return data
