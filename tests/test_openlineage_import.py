"""``lineage import openlineage``: a recorded dbt and Airflow run becomes catalog suggestions
(never subject events); bad input is one line naming file:line, exit 2, nothing written."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from lineage.catalog.loader import parse_catalog
from tests.conftest import Lineage

ROOT = Path(__file__).resolve().parent
RUN = ROOT / "data" / "openlineage" / "pipeline_run.jsonl"
CATALOG = ROOT.parent / "examples" / "webshop" / "lineage.yaml"


def suggestions(lineage: Lineage, *args: str) -> dict[str, Any]:
    return lineage.json("import", "openlineage", *args, "--catalog", str(CATALOG))


def merged(fragment: dict[str, Any]) -> dict[str, Any]:
    """The webshop catalog with the suggested fragment merged in, as a person would."""
    doc = yaml.safe_load(CATALOG.read_text())
    doc["holders"].update(fragment.get("holders", {}))
    for pid, p in fragment.get("purposes", {}).items():
        target = doc["purposes"].setdefault(pid, {})
        for key, value in p.items():
            if isinstance(value, list) and key in target:
                target[key] = [*target[key], *value]
            else:
                target[key] = value
    return doc


def test_a_recorded_pipeline_run_becomes_suggestions(lineage: Lineage) -> None:
    data = suggestions(lineage, str(RUN))
    found = {(s["kind"], s["holder"]): s for s in data["suggestions"]}
    assert set(found) == {
        ("holder", "nordlys-analytics"),
        ("flow", "nordlys-analytics"),
        ("holder", "nordlys-us-exports"),
        ("flow", "nordlys-us-exports"),
        ("transfer", "nordlys-us-exports"),
    }
    # The warehouse: its region says Germany; its source is the webshop's own system.
    assert found["holder", "nordlys-analytics"]["country"] == "DE"
    assert found["flow", "nordlys-analytics"]["source"] == "webshop-db"
    assert found["flow", "nordlys-analytics"]["categories"] == ["user.contact.email"]
    # The US bucket: the Airflow job's data use names the purpose; no tool for the US.
    bucket = found["transfer", "nordlys-us-exports"]
    assert bucket["country"] == "US" and "no transfer tool for US" in bucket["detail"]
    assert found["flow", "nordlys-us-exports"]["purposes"] == ["newsletter"]
    catalog = data["catalog"]
    assert catalog["holders"]["nordlys-us-exports"]["transfer"] == {"mechanism": "none"}
    assert catalog["purposes"]["newsletter"] == {
        "recipients": ["nordlys-us-exports"],
        "transfers": [{"recipient": "nordlys-us-exports"}],
    }
    # Merged as suggested, the catalog still loads; only the placeholders need a person.
    loaded, problems = parse_catalog(yaml.safe_dump(merged(catalog)))
    assert not problems and loaded is not None
    assert "nordlys-us-exports" in loaded.reach_of("newsletter")
    # Nothing reached the event log: a pipeline run names no person.
    assert lineage.json("status")["projection"].get("events", 0) == 0


def test_what_the_catalog_declares_is_not_suggested(lineage: Lineage, tmp_path: Path) -> None:
    """lineage's own export, read back against the catalog it came from, suggests nothing."""
    events = str(CATALOG.parent / "events.jsonl")
    lineage.ok("emit", "--catalog", str(CATALOG), "--file", events)
    out = tmp_path / "flows.jsonl"
    lineage.ok("export", "openlineage", "--catalog", str(CATALOG), "-o", str(out))
    assert suggestions(lineage, str(out))["suggestions"] == []
    # Without the catalog, every holder the export names is new.
    bare = lineage.json("import", "openlineage", str(out))
    holders = {s["holder"] for s in bare["suggestions"] if s["kind"] == "holder"}
    assert {"mailchimp", "e-conomic", "quickpay"} <= holders


def test_yaml_on_stdin_and_to_a_file(lineage: Lineage, tmp_path: Path) -> None:
    result = lineage.ok("import", "openlineage", "-", "--catalog", str(CATALOG),
                        input=RUN.read_text())  # fmt: skip
    assert result.stdout.startswith("# Catalog suggestions")
    assert yaml.safe_load(result.stdout)["holders"]["nordlys-analytics"]["country"] == "DE"
    out = tmp_path / "suggested.yaml"
    lineage.ok("import", "openlineage", str(RUN), "--catalog", str(CATALOG), "-o", str(out))
    written = out.read_text()
    assert written.split("\n", 1)[1] == result.stdout.split("\n", 1)[1]
    assert out.stat().st_mode & 0o777 == 0o600


def _lines(*events: Any) -> str:
    return "".join((e if isinstance(e, str) else json.dumps(e)) + "\n" for e in events)


GOOD = json.loads(RUN.read_text().splitlines()[0])


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        (_lines(GOOD, '{"eventType": "START", "run": '), ":2", "not valid JSON"),
        (_lines(GOOD, {"dataset": {"namespace": "a", "name": "b"}, "eventTime": "x"}), ":2",
         "not an OpenLineage run event (a dataset or job event"),
        (_lines({**GOOD, "job": {"namespace": "dbt"}}), ":1", "job.name"),
        (_lines({**GOOD, "eventTime": "yesterday"}), ":1", "eventTime"),
        (_lines([1, 2]), ": event 1", "not an OpenLineage run event"),
        ("\n", ":1", "no OpenLineage events"),
    ],
)  # fmt: skip
def test_bad_input_is_one_line_and_writes_nothing(
    lineage: Lineage, tmp_path: Path, text: str, where: str, message: str
) -> None:
    bad = tmp_path / "events.jsonl"
    bad.write_text(text)
    out = tmp_path / "suggested.yaml"
    result = lineage("import", "openlineage", str(bad), "-o", str(out))
    assert result.exit_code == 2, result.output
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.output
    assert f"{bad}{where}" in result.stderr and message in result.stderr
    assert not out.exists()
