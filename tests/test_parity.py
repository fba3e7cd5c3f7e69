"""One rulebook, every command: on generated companies, who-has, access, audit, ROPA evidence,
erasure status and exposed agree subject by subject at several times."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pytest
import yaml

from lineage.catalog.loader import load_catalog
from lineage.rules.taxonomy import covered
from tests.companies import AS_OF_TIMES, Company, generate
from tests.conftest import Lineage

SEEDS = (11, 23, 37)


@pytest.fixture(scope="module", params=SEEDS)
def company(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    c = generate(request.param, subjects=30)
    root = tmp_path_factory.mktemp(f"company{request.param}")
    lineage = Lineage(root / "home")
    lineage.ok("init")
    catalog = root / "lineage.yaml"
    catalog.write_text(yaml.safe_dump(c.catalog, sort_keys=False))
    lineage.ok("catalog", "validate", "--catalog", str(catalog))
    result = lineage.emit(c.events)
    assert result.exit_code == 0, result.output
    return c, lineage, str(catalog)


def _json(lineage: Lineage, *args: str) -> Any:
    result = lineage(*args, "--format", "json")
    assert result.exit_code in (0, 1), (result.output, result.exception)
    return json.loads(result.stdout)


def _who_has(lineage: Lineage, catalog: str, email: str, as_of: str) -> dict[str, Any]:
    return lineage.json("who-has", email, "--as-of", as_of, "--catalog", catalog)


@pytest.mark.parametrize("as_of", AS_OF_TIMES)
def test_every_command_agrees_with_who_has(
    company: tuple[Company, Lineage, str], as_of: str
) -> None:
    c, lineage, catalog = company
    answers = {e: _who_has(lineage, catalog, e, as_of) for e in c.emails}
    # Linked identifiers give the same answer, once the link is on record.
    for email, others in c.linked.items():
        linked_at = min(e["occurred_at"] for e in c.events if len(e["subject"]) > 1
                        and e["subject"]["email"] == email)  # fmt: skip
        for other in others if linked_at <= as_of else ():
            alt = lineage.json("who-has", "--id", f"phone={other}", "--as-of", as_of,
                               "--catalog", catalog)  # fmt: skip
            assert alt["holders"] == answers[email]["holders"]

    audit = _json(lineage, "audit", "--as-of", as_of, "--catalog", catalog)["findings"]
    by_rule: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for f in audit:
        by_rule[f["rule"]].append(f)

    # Retention: the audit's overdue subjects per holder are who-has's overdue holdings.
    overdue_subjects: Counter[str] = Counter()
    overdue_categories: dict[str, set[str]] = defaultdict(set)
    for a in answers.values():
        for h in a["holders"]:
            if h["overdue_categories"]:
                overdue_subjects[h["holder"]] += 1
                overdue_categories[h["holder"]].update(h["overdue_categories"])
                assert h["status"] in ("overdue", "erasure_pending", "retained", "restricted")
            for entry in h["retention_by_category"]:
                assert entry["overdue"] == (entry["category"] in h["overdue_categories"])
    found = {f["holder"]: f["evidence"] for f in by_rule["retention-overdue"]}
    assert {h: e["subjects"] for h, e in found.items()} == dict(overdue_subjects)
    assert {h: set(e["categories"]) for h, e in found.items()} == dict(overdue_categories)

    # Transfers: invalid subjects per recipient are who-has's current invalid transfers.
    invalid: Counter[str] = Counter()
    for a in answers.values():
        for h in a["holders"]:
            t = h["transfer"]
            if t and t["current"] and not t["valid"]:
                invalid[h["holder"]] += 1
    summed: Counter[str] = Counter()
    for f in by_rule["transfer-invalid"]:
        if "invalid_subjects" in f["evidence"]:
            summed[f["holder"]] += f["evidence"]["invalid_subjects"]
    assert summed == invalid

    # Breach exposure at that moment: the same subjects and categories as who-has.
    holders = {h for a in answers.values() for h in (x["holder"] for x in a["holders"])}
    for holder in sorted(holders):
        exp = lineage.json("exposed", "--holder", holder, "--at", as_of)
        held = [h for a in answers.values() for h in a["holders"] if h["holder"] == holder]
        with_data = [h for h in held if h["categories"]]
        assert exp["subjects"] == len(with_data), holder
        per_category = Counter(cat for h in with_data for cat in h["categories"])
        assert {x["category"]: x["subjects"] for x in exp["categories"]} == dict(per_category)

    # Rights requests: erasure status and the audit name the same overdue requests.
    status = lineage.json("erasure", "status", "--as-of", as_of)["requests"]
    overdue_ids = {q["request_id"] for q in status if q["status"] == "overdue"}
    assert {f["evidence"]["request_id"] for f in by_rule["erasure-overdue"]} == overdue_ids
    # ... and who-has shows each subject's requests with the same status.
    statuses = {q["request_id"]: q["status"] for q in status}
    for a in answers.values():
        for q in a["requests"]:
            assert statuses[q["request_id"]] == q["status"]

    # Access reports state the retention who-has reckons, holder by holder.
    for email in c.emails[:10]:
        report = lineage.json("access", email, "--as-of", as_of, "--catalog", catalog)
        mine = {h["holder"]: h["retain_until"] for h in answers[email]["holders"]
                if h["categories"]}  # fmt: skip
        theirs = {x["holder"]: x["retain_until"] for x in report["retention"]}
        assert theirs == mine


@pytest.mark.parametrize("as_of", AS_OF_TIMES[1:])
def test_ropa_evidence_counts_subjects_whose_flows_match_the_purpose(
    company: tuple[Company, Lineage, str], as_of: str, tmp_path: Path
) -> None:
    c, lineage, catalog_path = company
    catalog = load_catalog(catalog_path)
    doc = lineage.json("ropa", "--as-of", as_of, "--catalog", catalog_path)
    observed = {r["purpose_id"]: r["subjects_observed"] for r in doc["controller_records"]}
    # The events themselves, read independently of the projection: a subject counts for a
    # purpose when one of its flows matches it (hierarchy, holder) with a declared category.
    expected: dict[str, set[str]] = defaultdict(set)
    for e in c.events:
        if e["event_type"] not in ("DataCollected", "DataShared", "DataTransferred"):
            continue
        if e["occurred_at"] > as_of:
            continue
        holder = e.get("system") or e["recipient"]
        for category in e["categories"]:
            for pid in catalog.purposes_for(e["purpose"], holder, category):
                if covered(category, catalog.purposes[pid].categories):
                    expected[pid].add(e["subject"]["email"])
    assert observed == {pid: len(expected.get(pid, ())) for pid in observed}
