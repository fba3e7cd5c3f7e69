"""``lineage map``: what the DOT says, the pictures Graphviz draws from it, and bad input."""

from __future__ import annotations

import json
import re
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from lineage.graph.datamap import compact_categories
from tests.conftest import Lineage, collected, shared, transferred

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
AS_OF = datetime(2025, 9, 1, tzinfo=UTC)
RED = '"#cc0000"'
needs_dot = pytest.mark.skipif(
    shutil.which("dot") is None,
    reason="Graphviz's dot is not installed (apt-get install graphviz; scripts/check installs "
    "it when it runs as root)",
)


@pytest.fixture
def company(lineage: Lineage) -> Lineage:
    lineage.ok("init")
    result = lineage.emit(
        [
            collected(),
            collected("bob@example.com", categories=["user.name", "user.contact.phone_number"]),
            shared(),
            shared("bob@example.com"),
            # Privacy Shield in 2019: invalid ever since Schrems II.
            transferred(
                occurred_at="2019-05-01T00:00:00Z",
                recipient="desk-support-inc",
                mechanism="privacy_shield",
                purpose="essential.service.operations.support",
                legal_basis="legitimate_interests",
            ),
            transferred(),  # DPF in 2024 to mailchimp: valid
        ]
    )
    assert result.exit_code == 0, result.output
    return lineage


def dot_of(lineage: Lineage, tmp_path: Path, *args: str) -> str:
    out = tmp_path / "map.dot"
    lineage.ok("map", "--format", "dot", "--output", str(out), *args)
    return out.read_text()


def node_id(dot: str, name: str) -> str:
    match = re.search(rf"\b(n\d+) \[label=<<b>{re.escape(name)}</b>", dot)
    assert match, f"no node {name} in\n{dot}"
    return match.group(1)


def edge(dot: str, source: str, target: str) -> str:
    a, b = node_id(dot, source), node_id(dot, target)
    match = re.search(rf"^\s*{a} -> {b} \[(.*)\]$", dot, re.M | re.S)
    assert match, f"no edge {source} -> {target}"
    return match.group(1).split("\n\t")[0]


def test_company_map_dot(company: Lineage, tmp_path: Path) -> None:
    dot = dot_of(company, tmp_path)
    assert "rankdir=LR" in dot
    # Own system, processor in the EEA, recipients outside it in a country cluster.
    assert re.search(r"<b>webshop-db</b><br/><font[^>]*>own system</font>", dot)
    assert "processor · DK" in dot
    cluster = dot[dot.index("subgraph cluster_US") :]
    assert "United States (US)" in cluster and "outside the EEA" in cluster
    assert "<b>desk-support-inc</b>" in cluster and "<b>mailchimp</b>" in cluster
    assert "<b>e-conomic</b>" not in cluster
    # One edge per pair of holders: both subjects' collections on one edge.
    collect = edge(dot, "Data subjects", "webshop-db")
    assert "2 subjects" in collect and "contact: email, phone_number" in collect
    assert "basis: contract" in collect
    assert dot.count(f"{node_id(dot, 'Data subjects')} -> {node_id(dot, 'webshop-db')} ") == 1
    # The 2019 Privacy Shield transfer is red; the DPF one is not.
    invalid = edge(dot, "webshop-db", "desk-support-inc")
    assert f"color={RED}" in invalid and "INVALID transfer: privacy_shield" in invalid
    assert "basis: legitimate interests" in invalid
    valid = edge(dot, "webshop-db", "mailchimp")
    assert RED not in valid and "transfer tool: dpf" in valid
    assert "invalid transfer" in dot  # the legend explains the red


def test_map_before_the_invalidation_is_not_red(company: Lineage, tmp_path: Path) -> None:
    dot = dot_of(company, tmp_path, "--as-of", "2020-01-01")
    assert RED not in edge(dot, "webshop-db", "desk-support-inc")
    assert "<b>mailchimp</b>" not in dot  # not yet there in 2020


def test_subject_map(company: Lineage, tmp_path: Path) -> None:
    dot = dot_of(company, tmp_path, "--subject", "jane@example.com")
    assert "Data map of subject" in dot and "Data subject<" in dot
    assert f"color={RED}" in edge(dot, "webshop-db", "desk-support-inc")
    assert "1 subject" not in dot  # counts belong to the company map
    bob = dot_of(company, tmp_path, "--id", "email=bob@example.com")
    assert "<b>desk-support-inc</b>" not in bob and "<b>e-conomic</b>" in bob
    assert "phone_number" in edge(bob, "Data subject", "webshop-db")


def test_catalog_names_holders_and_dashes_what_was_never_observed(
    lineage: Lineage, tmp_path: Path
) -> None:
    catalog = str(EXAMPLES / "webshop" / "lineage.yaml")
    lineage.ok("emit", "--catalog", catalog, "--file", str(EXAMPLES / "webshop" / "events.jsonl"))
    dot = dot_of(lineage, tmp_path, "--catalog", catalog, "--as-of", "2025-09-01")
    never = edge(dot, "Data subjects", "google-ireland")
    assert "style=dashed" in never and "declared, never observed" in never
    assert "joint controller · IE" in dot
    # Red edges are the audit's transfer-invalid findings on observed flows.
    result = lineage("audit", "--catalog", catalog, "--format", "json", "--as-of", "2025-09-01")
    findings = json.loads(result.stdout)["findings"]
    audited = {
        f["holder"]
        for f in findings
        if f["rule"] in ("transfer-invalid", "transfer-dpf-uncertified")
        and f["evidence"].get("from")
    }
    ids = {re.search(rf"(n\d+) \[label=<<b>{re.escape(h)}</b>", dot).group(1) for h in audited}  # type: ignore[union-attr]
    red = {m.group(1) for m in re.finditer(rf"-> (n\d+) \[[^\]]*color={RED}", dot)}
    assert audited and red == ids


def test_unknown_subject_draws_nothing(company: Lineage, tmp_path: Path) -> None:
    out = tmp_path / "map.dot"
    out.write_text("old picture")
    result = company("map", "--subject", "nobody@example.com", "-o", str(out))
    assert result.exit_code == 1
    assert "nothing to draw" in result.stderr and result.stderr.count("\n") == 1
    assert out.read_text() == "old picture"


def test_empty_company(lineage: Lineage, tmp_path: Path) -> None:
    result = lineage("map", "-o", str(tmp_path / "map.dot"))
    assert result.exit_code == 1 and "nothing to draw" in result.stderr
    assert not (tmp_path / "map.dot").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--format", "pdf", "-o", "map.pdf"), "Invalid value for '--format'"),
        (("-o", "map.pdf"), "cannot tell the format"),
        (("--format", "dot", "-o", "missing/dir/map.dot"), "cannot write"),
        (("--format", "dot", "-o", "."), "is a directory"),
        (("--subject", "justaname", "-o", "map.dot"), "cannot tell what kind of identifier"),
        (("--id", "nokind", "-o", "map.dot"), "must be KIND=VALUE"),
    ],
)
def test_bad_input(
    company: Lineage, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: tuple, message: str
) -> None:
    monkeypatch.chdir(tmp_path)
    result = company("map", *args)
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert not list(tmp_path.glob(".map*")), "a temporary file was left behind"


def test_svg_and_png_without_graphviz_say_to_install_it(
    company: Lineage, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(shutil, "which", lambda *_a, **_k: None)
    for fmt in ("svg", "png"):
        result = company("map", "--format", fmt, "-o", str(tmp_path / f"map.{fmt}"))
        assert result.exit_code == 2
        assert "install Graphviz" in result.stderr and result.stderr.count("\n") == 1
        assert not (tmp_path / f"map.{fmt}").exists()
    company.ok("map", "-o", str(tmp_path / "map.gv"))  # DOT needs no binary
    assert (tmp_path / "map.gv").read_text().startswith("digraph")


def test_dot_to_standard_output(company: Lineage) -> None:
    result = company.ok("map", "--format", "dot", "-o", "-")
    assert result.stdout.startswith("digraph datamap {")


@needs_dot
def test_svg_and_png_are_drawn(company: Lineage, tmp_path: Path) -> None:
    company.ok("map", "-o", str(tmp_path / "map.svg"))
    svg = (tmp_path / "map.svg").read_text()
    assert "<svg" in svg and "desk&#45;support&#45;inc" in svg and "#cc0000" in svg
    company.ok("map", "--subject", "jane@example.com", "-o", str(tmp_path / "jane.png"))
    png = (tmp_path / "jane.png").read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 10_000
    assert not list(tmp_path.glob(".*"))


def test_compact_categories() -> None:
    lines = compact_categories(
        [
            "user.contact.email",
            "user.contact.phone_number",
            "user.contact.address.city",
            "user.contact.address.street",
            "user.name",
            "user.financial.credit_card",
            "user.device.ip_address",
            "user.behavior.purchase_history",
        ]
    )
    assert lines == [
        "contact: email, phone_number, address",
        "name",
        "financial: credit_card",
        "device: ip_address",
        "+1 more",
    ]


def test_dense_maps_name_category_groups_only() -> None:
    from datetime import UTC, datetime

    from lineage.graph.datamap import DENSE, DataMap, MapEdge, MapNode, to_dot

    cats = ["user.contact.email", "user.contact.phone_number", "user.name"]
    m = DataMap(datetime(2025, 1, 1, tzinfo=UTC))
    m.nodes["s"] = MapNode("s", "own", country="DK")
    for i in range(DENSE + 1):
        m.nodes[f"r{i}"] = MapNode(f"r{i}", "processor", country="US", outside_eea=True)
        m.edges.append(MapEdge("s", f"r{i}", categories=cats, legal_bases=["contract"]))
    dot = to_dot(m)
    labels = re.findall(r'-> n\d+ \[label="([^"]*)"', dot)
    assert len(labels) == DENSE + 1
    assert all(label.startswith("contact, name\\l") and "email" not in label for label in labels)
    assert "cluster_US" in dot and dot.count("->") == DENSE + 1
    m.edges = m.edges[:DENSE]
    assert "contact: email, phone_number\\l" in to_dot(m)


def _map_messages() -> list[str]:
    """The English words of the map's code (what ``pybabel extract`` finds there), as the
    fragments between their parameters."""
    from babel.messages.extract import extract_from_file

    root = Path(__file__).resolve().parent.parent / "lineage"
    found: list[str] = []
    for path in (root / "graph" / "datamap.py", root / "services" / "datamap.py"):
        for _line, message, _comments, _context in extract_from_file(
            "python", str(path), keywords={"N_": None, "_": None, "NP_": (1, 2)}
        ):
            for text in [message] if isinstance(message, str) else message:
                found += [f for f in re.split(r"%\(\w+\)s", text) if len(f.strip()) > 3]
    return found


def test_the_webshop_map_in_danish(lineage: Lineage, tmp_path: Path) -> None:
    """Every word of the picture in Danish: legend, roles, frames, labels, tooltips, country
    names, and the rule's reason for the invalid transfer; none of the English left."""
    from lineage.rules.transfers import validity
    from lineage.services import plain

    catalog = str(EXAMPLES / "webshop" / "lineage.yaml")
    lineage.ok("emit", "--catalog", catalog, "--file", str(EXAMPLES / "webshop" / "events.jsonl"))
    args = ("--catalog", catalog, "--as-of", "2025-09-01")
    english = dot_of(lineage, tmp_path, *args)
    danish = dot_of(lineage, tmp_path, *args, "--lang", "da")
    assert dot_of(lineage, tmp_path, *args, "--lang", "en") == english  # the default
    # The same picture: nodes, edges and colours; only the words differ.
    assert danish.count("->") == english.count("->") and danish.count(RED) == english.count(RED)
    # The legend in Danish.
    for words in ("eget system", "databehandler", "dataansvarlig, fælles dataansvarlig"):
        assert f'<td align="left">{words}</td>' in danish, words
    assert '<td align="left">uden for EØS</td>' in danish
    assert '<td align="left">observeret dataflow</td>' in danish
    assert '<td align="left">ugyldig overførsel</td>' in danish
    assert "<b>Datakort — pr. 2025-09-01 00:00 UTC</b>" in danish
    assert "<b>USA (US)</b> — uden for EØS" in danish and "United States" in english
    # The invalid transfer's reason: the rule's parts rendered in Danish.
    parts = validity("privacy_shield", "US", datetime(2019, 5, 6, tzinfo=UTC), AS_OF).parts
    reason = plain.text(parts, "da")
    assert reason == "privacy_shield blev erklæret ugyldig den 2020-07-16"
    red = edge(danish, "webshop-db", "desk-support-inc")
    assert f"UGYLDIG overførsel: {reason}\\l" in red and f"ugyldig: {reason}" in red
    assert "behandlingsgrundlag: legitime interesser" in red
    assert "INVALID transfer: privacy_shield was invalidated on 2020-07-16" in english
    # No English word of the map's (nor the rule's) is left in the Danish picture.
    left = [w for w in [*_map_messages(), parts[0].english()] if w in danish]
    assert left == [], left
    assert len(_map_messages()) > 20  # the extraction found the map's messages


def test_subject_map_in_danish(company: Lineage, tmp_path: Path) -> None:
    dot = dot_of(company, tmp_path, "--subject", "jane@example.com", "--lang", "da")
    assert "Datakort for den registrerede" in dot and "<b>Registreret</b>" in dot
    red = edge(dot, "Registreret", "webshop-db")
    assert "1 hændelse," in red
    assert "UGYLDIG overførsel: privacy_shield blev erklæret ugyldig" in edge(
        dot, "webshop-db", "desk-support-inc"
    )


def test_unknown_language_is_one_line(company: Lineage, tmp_path: Path) -> None:
    out = tmp_path / "map.dot"
    result = company("map", "--lang", "xx", "-o", str(out))
    assert result.exit_code == 2
    assert result.stderr == "error: --lang: unknown language 'xx'; expected one of en, da\n"
    assert not out.exists()


def test_dpf_without_certification_in_both_languages(lineage: Lineage, tmp_path: Path) -> None:
    """The uncertified-DPF reason is the rulebook's code, rendered per reader; the model's
    JSON keeps the English and the parts."""
    webshop = EXAMPLES / "webshop"
    text = (webshop / "lineage.yaml").read_text()
    certified = "    transfer: {mechanism: dpf, ref: Mailchimp DPA with DPF certification}\n"
    assert text.count(certified + "    dpf_certified: true\n") == 1
    catalog = tmp_path / "lineage.yaml"
    catalog.write_text(text.replace(certified + "    dpf_certified: true\n", certified))
    lineage.ok("emit", "--catalog", str(catalog), "--file", str(webshop / "events.jsonl"))
    args = ("--catalog", str(catalog), "--as-of", "2025-09-01")
    english = edge(dot_of(lineage, tmp_path, *args), "webshop-db", "mailchimp")
    assert f"color={RED}" in english
    assert "INVALID transfer: mailchimp is not marked DPF-certified\\l" in english
    danish = edge(dot_of(lineage, tmp_path, *args, "--lang", "da"), "webshop-db", "mailchimp")
    assert "UGYLDIG overførsel: mailchimp er ikke markeret som DPF-certificeret\\l" in danish

    from lineage.graph.datamap import DataMap, MapEdge, MapNode
    from lineage.rules.reasons import Reason

    m = DataMap(datetime(2025, 1, 1, tzinfo=UTC))
    m.nodes["s"] = MapNode("s", "own", country="DK")
    m.nodes["mailer"] = MapNode("mailer", "processor", country="US", outside_eea=True)
    why = (Reason("transfer.not_dpf_certified", {"holder": "mailer"}),)
    m.edges.append(MapEdge("s", "mailer", invalid=[why]))
    edge_json = m.to_json()["edges"][0]
    assert edge_json["invalid"] == ["mailer is not marked DPF-certified"]
    assert edge_json["invalid_parts"] == [
        [{"code": "transfer.not_dpf_certified", "params": {"holder": "mailer"}}]
    ]


def test_declared_sub_processor_flow_says_whose_in_both_languages() -> None:
    from lineage.graph.datamap import DataMap, MapEdge, MapNode, to_dot

    m = DataMap(datetime(2025, 1, 1, tzinfo=UTC))
    m.nodes["books"] = MapNode("books", "processor", country="DK")
    m.nodes["cloud"] = MapNode("cloud", "sub_processor", country="DE")
    m.edges.append(MapEdge("books", "cloud", observed=False, sub_processing=True))
    assert "purposes: -&#10;sub-processor of books&#10;legal bases: -" in to_dot(m)
    danish = to_dot(m, "da")
    assert "formål: -&#10;underdatabehandler for books&#10;behandlingsgrundlag: -" in danish
