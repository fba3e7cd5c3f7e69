"""Art. 30 records follow the rulebook: onward transfers through processors, invalid tools
marked, joint controllers in the header, and the same transfer rules for 30(2) records."""

from __future__ import annotations

import copy
import json
from typing import Any

import yaml

from tests.conftest import Lineage
from tests.test_audit_rules import CATALOG

AS_OF = "2025-01-01T00:00:00Z"


def _records(lineage: Lineage, catalog: dict[str, Any]) -> Any:
    path = lineage.home.parent / "lineage.yaml"
    path.write_text(yaml.safe_dump(catalog, sort_keys=False))
    out = lineage.ok("ropa", "--catalog", str(path), "--format", "json", "--as-of", AS_OF)
    return json.loads(out.stdout)


def test_onward_transfers_and_invalid_tools_are_in_the_record(lineage: Lineage) -> None:
    c = copy.deepcopy(CATALOG)
    c["holders"]["books"]["sub_processors"] = ["cloud"]
    c["holders"]["cloud"] = {
        "role": "sub_processor",
        "country": "US",
        "dpa_signed": "2020-01-01",
        "transfer": {"mechanism": "privacy_shield"},
        "sub_processors": ["backup"],
    }
    c["holders"]["backup"] = {
        "role": "sub_processor",
        "country": "IN",
        "dpa_signed": "2020-01-01",
        "transfer": {"mechanism": "scc"},
    }
    c["holders"]["meta"] = {"role": "joint_controller", "country": "IE", "contact": "dpo@meta"}
    rows = {r["purpose_id"]: r for r in _records(lineage, c)["controller_records"]}
    customer = rows["customer"]["transfers"]
    cloud = [t for t in customer if "cloud (sub-processor of books)" in t]
    assert cloud and "NOT VALID" in cloud[0], customer
    backup = [t for t in customer if t.startswith("IN: backup (sub-processor of cloud)")]
    assert backup and "NOT VALID" not in backup[0]
    assert all("NOT VALID" not in t for t in rows["news"]["transfers"]), "certified DPF"
    header = _records(lineage, c)["header"]
    assert "meta (IE), dpo@meta" in header["joint_controllers"]


def test_processor_records_judge_their_transfers_the_same_way(lineage: Lineage) -> None:
    c = copy.deepcopy(CATALOG)
    c["holders"]["mailer"]["dpf_certified"] = False
    c["processor_activities"] = [
        {
            "controller": {"name": "Client A/S", "contact": "privacy@client.example"},
            "processing": ["newsletter delivery"],
            "categories": ["user.contact.email"],
            "sub_processors": ["books"],
            "transfers": [{"recipient": "mailer"}],
        }
    ]
    (record,) = _records(lineage, c)["processor_records"]
    assert record["transfers"] == [
        "US: mailer under the EU-US Data Privacy Framework (Art. 45); "
        "NOT VALID: mailer is not marked DPF-certified"
    ]
