"""Connectors' erasers as erasure executors, end to end against the fake vendor API."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from connectors.erasure import ConnectorEraser, to_outcome
from lineage.config import resolve
from lineage.demo import fakes
from lineage.demo.connectors import SAMPLE_EMAIL, demo_settings, sync_sample_company
from lineage.demo.fakeapi import FakeApi
from lineage.erasers import ErasureTarget, load_registry
from lineage.errors import ConfigError, TerminalEraserError, TransientEraserError
from lineage.ingest.base import ErasureOutcome
from lineage.services.app import App
from tests.conftest import Lineage

VENDORS = ("e-conomic", "mailchimp", "stripe", "quickpay", "zendesk-sell")
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def write_settings(home: Path, url: str) -> None:
    """Connector credentials in HOME/connectors.toml, as an operator would keep them."""
    settings = demo_settings(url)
    lines = []
    for name in VENDORS:
        lines.append(f"[{name}]")
        lines += [f"{k} = {json.dumps(str(v))}" for k, v in settings[name].items()]
        lines.append("")
    path = home / "connectors.toml"
    path.write_text("\n".join(lines))
    os.chmod(path, 0o600)


@pytest.fixture
def shop(lineage: Lineage) -> Iterator[tuple[Lineage, fakes.Vendors, FakeApi]]:
    """A home synced from the recorded payloads, and the vendors' API to erase at."""
    app = App(resolve(lineage.home))
    sync_sample_company(app.pseudonymizer(), app.append, lineage.home)
    app.close()
    vendors = fakes.Vendors.recorded()
    with FakeApi() as api:
        vendors.mount(api)
        write_settings(lineage.home, api.url)
        yield lineage, vendors, api


def by_holder(plan: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(t["holder"], t["action"]): t for t in plan["tasks"]}


def test_erase_runs_through_the_connectors(
    shop: tuple[Lineage, fakes.Vendors, FakeApi],
) -> None:
    lineage, vendors, api = shop
    (lineage.home / "erasers.toml").write_text(
        "".join(f'[{name}]\neraser = "{name}"\n\n' for name in VENDORS)
    )
    plan = lineage.json("erase", SAMPLE_EMAIL, "--backoff", "0")
    tasks = by_holder(plan)
    for holder in ("mailchimp", "stripe", "zendesk-sell"):
        task = tasks[(holder, "erase")]
        assert (task["status"], task["executor"]) == ("confirmed", holder), task
    # Mailchimp: the permanent delete, not the archive (DELETE on the member).
    calls = {(m, p) for _, m, p, _ in api.log}
    assert any(m == "POST" and p.endswith("/actions/delete-permanent") for m, p in calls)
    assert not any(m == "DELETE" and "/members/" in p for m, p in calls)
    assert all(c["email"] != SAMPLE_EMAIL for c in vendors.stripe.customers)

    # e-conomic: the customer is deleted now, booked invoices stay under the bookkeeping act.
    keep = tasks[("e-conomic", "retain")]
    assert keep["status"] == "retained" and keep["executor"] == "e-conomic"
    assert "bookkeeping act" in keep["reason"] and "17(3)(b)" in keep["reason"]
    assert "DELETE /customers/10000" in keep["reason"]
    assert keep["retain_until"] >= "2030-01-01T00:00:00Z"
    assert 10000 not in {c["customerNumber"] for c in vendors.economic.customers}
    assert not any(t["holder"] == "e-conomic" and t["status"] == "confirmed" for t in plan["tasks"])

    # QuickPay has no erasure API: a manual task with the instruction, awaiting confirmation.
    pay = tasks[("quickpay", "erase")]
    assert (pay["status"], pay["executor"]) == ("notified", "quickpay")
    # Independent controllers are told (Art. 19); own systems are erased by hand.
    notify = [t for t in plan["tasks"] if t["action"] == "notify"]
    assert notify and all(t["status"] == "planned" for t in notify)
    assert "gavefabrikken" in {t["holder"] for t in notify}

    status = {h["holder"]: h["status"] for h in lineage.json("who-has", SAMPLE_EMAIL)["holders"]}
    assert status["e-conomic"] == "retained"
    assert status["mailchimp"] == status["stripe"] == status["zendesk-sell"] == "erased"
    assert status["quickpay"] == "erasure_pending"

    # A second run repeats nothing: confirmed and retained tasks are left alone.
    before = len(api.log)
    lineage.ok("erasure", "run", plan["request_id"], "--id", f"email={SAMPLE_EMAIL}")
    assert len(api.log) == before
    detail = lineage.json("erasure", "status", plan["request_id"])["requests"][0]
    assert "bookkeeping act" in by_holder(detail)[("e-conomic", "retain")]["reason"]


def test_catalog_declared_erasers_and_missing_credentials(
    shop: tuple[Lineage, fakes.Vendors, FakeApi],
) -> None:
    lineage, _, _ = shop
    catalog = EXAMPLES / "webshop" / "lineage.yaml"
    (lineage.home / "connectors.toml").unlink()
    plan = lineage.json("erase", SAMPLE_EMAIL, "--backoff", "0", "--catalog", str(catalog))
    tasks = by_holder(plan)
    # The catalog names the e-conomic and mailchimp connectors (and "webshop", which no
    # installed eraser answers to); the holders it names no eraser for stay manual.
    assert tasks[("mailchimp", "erase")]["executor"] == "mailchimp"
    assert tasks[("e-conomic", "retain")]["executor"] == "e-conomic"
    assert tasks[("quickpay", "erase")]["executor"] is None
    # No credentials: the task fails with the setting to fix, nothing is confirmed.
    assert tasks[("mailchimp", "erase")]["status"] == "failed"
    detail = lineage.json("erasure", "status", plan["request_id"])["requests"][0]
    assert detail["status"] == "open" and "confirmed" not in {t["status"] for t in detail["tasks"]}
    registry = load_registry(lineage.home, {"mailchimp": "mailchimp"})
    eraser = registry.get("mailchimp")
    assert isinstance(eraser, ConnectorEraser)
    with pytest.raises(TerminalEraserError, match="LINEAGE_MAILCHIMP_API_KEY"):
        eraser.erase(ErasureTarget("r1", "mailchimp", (), {"email": SAMPLE_EMAIL}))


def test_erasers_toml_options_are_checked(lineage: Lineage) -> None:
    (lineage.home / "erasers.toml").write_text('[news]\neraser = "mailchimp"\nlist_idd = "x"\n')
    with pytest.raises(ConfigError, match="list_idd"):
        load_registry(lineage.home)
    (lineage.home / "erasers.toml").write_text('[news]\neraser = "files"\n')
    with pytest.raises(ConfigError, match="unknown eraser 'files'"):
        load_registry(lineage.home)


def test_vendor_errors_map_to_transient_and_terminal(
    shop: tuple[Lineage, fakes.Vendors, FakeApi],
) -> None:
    lineage, _, api = shop
    target = ErasureTarget("r1", "stripe", (), {"email": SAMPLE_EMAIL})
    eraser = ConnectorEraser("stripe", "stripe", lineage.home)
    api.fault(r"/stripe/v1/customers", 503, times=5)
    with pytest.raises(TransientEraserError, match="stripe"):
        eraser.erase(target)
    api.faults.clear()
    api.fault(r"/stripe/v1/customers", 401, times=5)
    with pytest.raises(TerminalEraserError, match="api_key"):
        eraser.erase(target)


def test_outcome_mapping() -> None:
    until = datetime(2030, 1, 1, tzinfo=UTC)
    ok = ErasureOutcome("x", "confirmed", actions=("DELETE /a",))
    kept = ErasureOutcome("x", "retained", "invoices kept", retain_until=until)
    assert to_outcome("x", [ok]).status == "confirmed"
    mixed = to_outcome("x", [ok, kept])
    assert (mixed.status, mixed.retain_until) == ("retained", until)
    assert "invoices kept" in (mixed.note or "") and "DELETE /a" in (mixed.note or "")
    assert to_outcome("x", [ErasureOutcome("x", "planned", "ask support")]).status == "notified"
    assert to_outcome("x", [ErasureOutcome("x", "refused", "no")]).status == "refused"
    with pytest.raises(TerminalEraserError, match="by e-mail only"):
        to_outcome("x", [ErasureOutcome("x", "failed", "by e-mail only")])
