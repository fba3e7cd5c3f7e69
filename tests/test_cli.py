"""The command line as users meet it: help, init, emit forms, project, rebuild, status."""

from __future__ import annotations

import json
import re
from pathlib import Path

import click
import pytest

from lineage.cli.main import cli
from tests.conftest import Lineage, collected, shared, transferred

README = Path(__file__).resolve().parents[1] / "README.md"


def _commands(group: click.Group, prefix: str = "") -> list[str]:
    names = []
    for name, command in group.commands.items():
        names.append(prefix + name)
        if isinstance(command, click.Group):
            names += _commands(command, prefix + name + " ")
    return names


@pytest.mark.parametrize("command", _commands(cli))
def test_every_command_has_help_and_is_documented(command: str, tmp_path: Path) -> None:
    result = Lineage(tmp_path / "h")(*command.split(), "--help")
    assert result.exit_code == 0
    assert "Usage:" in result.output and len(result.output.splitlines()) > 4
    assert f"lineage {command}" in README.read_text(), f"README does not mention {command}"


def test_init_is_idempotent_and_keeps_the_key(lineage: Lineage) -> None:
    key = (lineage.home / "pseudonym.key").read_text()
    assert lineage.json("init") == {"home": str(lineage.home), "created": False}
    assert (lineage.home / "pseudonym.key").read_text() == key


def test_commands_without_a_home_say_so(tmp_path: Path) -> None:
    result = Lineage(tmp_path / "missing")("who-has", "jane@example.com")
    assert result.exit_code == 2
    assert "lineage init" in result.stderr and result.stderr.count("\n") == 1


def test_single_event_form_equals_file_form(lineage: Lineage, tmp_path: Path) -> None:
    lineage.ok(
        "emit",
        "DataCollected",
        "--id",
        "email=Jane@Example.com ",
        "--at",
        "2024-01-15T09:30:00Z",
        "--source",
        "webshop",
        "categories=user.name,user.contact.email",
        "system=webshop-db",
        "purpose=essential.service",
        "legal_basis=contract",
        "data_subject=customer",
        "retention=P2Y",
    )
    other = Lineage(tmp_path / "other")
    other.ok("init")
    # Same key, so the same subject reference and the same content-derived event id.
    (other.home / "pseudonym.key").write_text((lineage.home / "pseudonym.key").read_text())
    other.emit([collected()])
    mine, theirs = (
        lineage.json("who-has", "jane@example.com"),
        other.json("who-has", "jane@example.com"),
    )
    assert mine["holders"] == theirs["holders"] != []


def test_emit_from_stdin(lineage: Lineage) -> None:
    text = "\n".join(json.dumps(e) for e in [collected(), shared()]) + "\n"
    out = json.loads(lineage.ok("emit", "--file", "-", "--format", "json", input=text).stdout)
    assert out["appended"] == 2


def test_several_identifiers_in_one_event_add_a_link(lineage: Lineage) -> None:
    event = collected(subject={"email": "jane@example.com", "customer_number": "1042"})
    out = json.loads(
        lineage.ok("emit", "--file", "-", "--format", "json", input=json.dumps(event)).stdout
    )
    assert (out["appended"], out["identity_links"]) == (2, 1)


def test_project_status_and_rebuild_agree(lineage: Lineage) -> None:
    lineage.emit([collected(), shared(), transferred(), collected("bo@example.com")])
    assert lineage.json("project")["applied"] == 4
    assert lineage.json("project")["applied"] == 0
    status = lineage.json("status")
    assert status["projection"]["events"] == 4
    assert status["projection"]["pending"] == 0
    assert status["projection"]["position"] == {"0": status["log"]["end"]["0"]}
    before = lineage.json("who-has", "jane@example.com", "--as-of", "2025-01-01")
    assert lineage.json("rebuild")["applied"] == 4
    assert lineage.json("who-has", "jane@example.com", "--as-of", "2025-01-01") == before


def test_read_commands_catch_up_first(lineage: Lineage) -> None:
    lineage.emit([collected()])
    assert lineage.json("status")["projection"]["pending"] > 0
    assert lineage.json("who-has", "jane@example.com")["holders"]
    assert lineage.json("status")["projection"]["pending"] == 0


def test_who_has_table_names_holders_and_flags_invalid_transfers(lineage: Lineage) -> None:
    lineage.emit([collected(), transferred(occurred_at="2021-01-01T00:00:00Z", mechanism="dpf")])
    out = lineage.ok("who-has", "jane@example.com").stdout
    assert re.search(r"mailchimp .*US dpf INVALID", out)
    assert "webshop-db" in out


def test_who_has_rejects_an_identifier_of_unknown_kind(lineage: Lineage) -> None:
    result = lineage("who-has", "1042")
    assert result.exit_code == 2 and "--id KIND=VALUE" in result.stderr


def test_bad_as_of_is_a_one_line_error(lineage: Lineage) -> None:
    result = lineage("who-has", "jane@example.com", "--as-of", "last tuesday")
    assert result.exit_code == 2
    assert "not an ISO 8601 timestamp" in result.stderr and result.stderr.count("\n") == 1


def test_demo_runs_end_to_end(tmp_path: Path) -> None:
    data = Lineage(tmp_path / "unused").json("demo", "--subjects", "40")
    assert data["events"] > 200
    holders = {h["holder"]: h for h in data["who_has"]["holders"]}
    assert holders["desk-support-inc"]["transfer"]["valid"] is False
    # The vendors' side of the sample customer comes from the connectors.
    assert all(c["events"] > 0 for c in data["connectors"].values())
    for vendor in ("mailchimp", "e-conomic", "quickpay", "stripe", "zendesk-sell"):
        assert holders[vendor]["status"] == "held", vendor
    assert holders["mailchimp"]["transfer"]["valid"] is True


def test_demo_in_a_thrown_away_home_says_how_to_keep_one(tmp_path: Path) -> None:
    out = Lineage(tmp_path / "unused").ok("demo", "--subjects", "20").stdout.splitlines()
    assert "lineage demo --keep demo-home" in [line.strip() for line in out]
    tried = [line.strip() for line in out[out.index("next, try:") + 1 :]]
    assert len(tried) == 3 and all(t.startswith("lineage --home demo-home ") for t in tried)


def test_demo_company_has_hundreds_of_people_and_every_event_type(tmp_path: Path) -> None:
    import duckdb

    from lineage.events.model import EVENT_TYPES

    home = tmp_path / "demo"
    Lineage(tmp_path / "unused").ok("demo", "--keep", str(home))
    with duckdb.connect(str(home / "projection.duckdb"), read_only=True) as con:
        types = {t for (t,) in con.execute("SELECT DISTINCT event_type FROM events").fetchall()}
        people = con.execute(
            "SELECT count(DISTINCT subject_ref) FROM events WHERE event_type = 'DataCollected'"
        ).fetchall()[0][0]
    assert types == set(EVENT_TYPES)
    assert people >= 300


def test_re_emitting_a_file_without_ids_records_nothing_new(lineage: Lineage) -> None:
    request = {
        "event_type": "ErasureRequested",
        "occurred_at": "2024-05-01T00:00:00Z",
        "subject": {"email": "jane@example.com"},
    }
    events = [collected(), shared(), request]
    lineage.emit(events)
    assert lineage.json("project")["applied"] == 3
    lineage.emit(events)
    assert lineage.json("project")["applied"] == 0
    assert lineage.json("status")["projection"]["events"] == 3


def test_rebuild_creates_the_lookup_indexes_after_loading(lineage: Lineage) -> None:
    """A rebuild loads without the per-subject indexes and creates them at the end: the
    projection it leaves answers who-has from them like one projected event by event, and
    keeps them up to date for events projected later."""
    import duckdb

    from lineage.config import resolve
    from lineage.projection.queries import sql

    lineage.emit([collected(), shared(), collected("bo@example.com")])
    before = lineage.json("who-has", "jane@example.com", "--as-of", "2025-01-01")
    assert lineage.json("rebuild")["applied"] == 3
    assert lineage.json("who-has", "jane@example.com", "--as-of", "2025-01-01") == before
    lineage.emit([transferred()], name="more.jsonl")
    assert lineage.json("project")["applied"] == 1
    path = resolve(lineage.home).projection_path
    with duckdb.connect(str(path), read_only=True) as con:
        names = {r[0] for r in con.execute("SELECT index_name FROM duckdb_indexes()").fetchall()}
        assert {"events_subject", "identity_links_subject"} <= names
        ref = con.execute("SELECT subject_ref FROM events WHERE holder = 'mailchimp'").fetchall()
        plan = con.execute(
            "EXPLAIN ANALYZE " + sql("subject_events"), {"ref": ref[0][0]}
        ).fetchall()
        assert "Type: Index Scan" in plan[0][1]
        assert len(con.execute(sql("subject_events"), {"ref": ref[0][0]}).fetchall()) == 3
    after = lineage.json("who-has", "jane@example.com", "--as-of", "2025-01-01")
    assert [h["holder"] for h in after["holders"]] == [
        *(h["holder"] for h in before["holders"]),
        "mailchimp",
    ]
