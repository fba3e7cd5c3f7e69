"""Erasers, the files connector, the CLI and the demo sync."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from connectors.mailchimp import MailchimpConfig, subscriber_hash
from lineage.demo import fakes
from lineage.ingest.config import Secret, load_config
from lineage.ingest.errors import PayloadError
from tests.conftest import Lineage
from tests.connectors.conftest import FAST, Harness


def _erase(harness: Harness, name: str, **identifiers: str) -> list[object]:
    connector = harness.connector(name)
    eraser = connector.eraser()
    assert eraser is not None
    with connector.make_client() as client:
        return list(eraser.erase(connector.api(client, retry=FAST), identifiers))


def test_erasers(harness: Harness, vendors: fakes.Vendors) -> None:
    jane = "jane.doe@example.dk"
    [mc] = _erase(harness, "mailchimp", email=jane)
    assert mc.status == "confirmed"  # type: ignore[attr-defined]
    assert subscriber_hash(jane) not in {m["id"] for m in vendors.mailchimp.members}
    assert ("POST", "delete-permanent") in {
        (m, p.rsplit("/", 1)[-1]) for _, m, p, _ in harness.fake.log
    }
    done, retained = _erase(harness, "e-conomic", email=jane)
    assert done.status == "confirmed" and retained.status == "retained"  # type: ignore[attr-defined]
    assert retained.retain_until.isoformat().startswith("2030-01-01")  # type: ignore[attr-defined]
    assert 10000 not in {c["customerNumber"] for c in vendors.economic.customers}
    assert vendors.economic.contacts["10000"] == []
    [st] = _erase(harness, "stripe", email=jane)
    assert "legal obligation" in st.reason  # type: ignore[attr-defined]
    assert all(c["email"] != jane for c in vendors.stripe.customers)
    [zd] = _erase(harness, "zendesk-sell", email=jane)
    assert zd.actions == ("DELETE /v2/contacts/4001",)  # type: ignore[attr-defined]
    assert harness.connector("quickpay").eraser() is None
    assert "no erasure API" in (harness.connector("quickpay").manual_erasure or "")


def test_files_connector(harness: Harness, tmp_path: Path) -> None:
    results = harness.run("files")
    assert [(r.resource, r.records) for r in results] == [("applicants", 2), ("gifts", 1)]
    collected = [e for e in harness.sink.events if e.event_type == "DataCollected"]
    assert {e.system for e in collected} == {"recruiting-sheet"}  # type: ignore[attr-defined]
    assert harness.run("files")[0].events == 0
    bad = tmp_path / "bad.csv"
    bad.write_text("application_id,submitted_at,email,salary\nA-1,2024-01-01T00:00:00Z,a@b.dk,1\n")
    spec = dict(harness.settings["files"]["exports"]["applicants"], path=str(bad))
    with pytest.raises(PayloadError, match="'salary' is neither mapped"):
        harness.run("files", config={"exports": {"applicants": spec}})


def test_config_from_env_and_file_never_shows_secrets(tmp_path: Path) -> None:
    (tmp_path / "connectors.toml").write_text('[mailchimp]\nlist_id = "L1"\napi_key = "s-us2"\n')
    os.chmod(tmp_path / "connectors.toml", 0o600)
    env = {"LINEAGE_MAILCHIMP_API_KEY": "secret-from-env-us3"}
    config = load_config(MailchimpConfig, "mailchimp", tmp_path, environ=env)
    assert config.list_id == "L1" and config.api_key == Secret("secret-from-env-us3")
    assert "secret-from-env" not in repr(config) and "secret" not in str(config.api_key)[:7]
    os.chmod(tmp_path / "connectors.toml", 0o644)
    with pytest.raises(Exception, match="chmod 600"):
        load_config(MailchimpConfig, "mailchimp", tmp_path, environ={})


def test_cli_list_run_and_rerun(lineage: Lineage, fake: object) -> None:
    from lineage.demo.fakeapi import FakeApi

    assert isinstance(fake, FakeApi)
    listed = lineage.json("connector", "list")
    assert {r["name"] for r in listed} >= {
        "e-conomic", "mailchimp", "stripe", "quickpay", "zendesk-sell", "files",
    }  # fmt: skip
    toml = lineage.home / "connectors.toml"
    toml.write_text(
        f'[mailchimp]\nbase_url = "{fake.url}/mailchimp/3.0"\n'
        f'api_key = "{fakes.MAILCHIMP_KEY}"\nlist_id = "{fakes.MAILCHIMP_LIST}"\n'
    )
    toml.chmod(0o600)
    dry = lineage.ok("connector", "run", "mailchimp", "--dry-run")
    assert "would record 12 events" in dry.output
    first = lineage.ok("connector", "run", "mailchimp", "--format", "json")
    assert json.loads(first.stdout)[0]["events"] == 12
    again = lineage.ok("connector", "run", "mailchimp")
    assert "recorded 0 events" in again.output
    who = lineage.json("who-has", "jane.doe@example.dk")
    assert "mailchimp" in json.dumps(who)
    toml.write_text(toml.read_text().replace(fakes.MAILCHIMP_KEY, "bad-us19"))
    failed = lineage("connector", "run", "mailchimp")
    assert failed.exit_code == 2 and "'api_key'" in failed.output
    assert "bad-us19" not in failed.output


def test_demo_sync_from_recorded_payloads(lineage: Lineage) -> None:
    from lineage.config import resolve
    from lineage.demo.connectors import SAMPLE_EMAIL, sync_sample_company
    from lineage.services.app import App
    from lineage.services.whohas import who_has
    from lineage.timeutil import now

    app = App(resolve(lineage.home))
    counts = sync_sample_company(app.pseudonymizer(), app.append, lineage.home)
    assert all(c["events"] > 0 for c in counts.values()), counts
    with app.store() as store:
        app.catch_up(store)
        answer = who_has(store, app.refs_for([("email", SAMPLE_EMAIL)]), now())
    holders = json.dumps(answer)
    for holder in ("mailchimp", "e-conomic", "stripe", "quickpay", "zendesk-sell"):
        assert holder in holders, holder


def test_check_event_agrees_with_check_record() -> None:
    from datetime import UTC, datetime

    from lineage.errors import InputError
    from lineage.events.model import DataShared, IdentityLinked
    from lineage.events.taxonomy import default_taxonomy
    from lineage.events.validate import RecordValidator

    validator = RecordValidator(default_taxonomy())
    at = datetime(2024, 1, 1, tzinfo=UTC)
    good = DataShared(
        subject_ref="a" * 64, occurred_at=at, source="t", categories=("user.contact.email",),
        from_holder="db", recipient="mailchimp", recipient_role="processor",
        purpose="marketing.communications.email", legal_basis="consent",
    )  # fmt: skip
    for _ in range(2):  # the second time from the memo
        validator.check_event(good)
    for bad in (
        DataShared(**{**good.__dict__, "legal_basis": "consnet"}),
        DataShared(**{**good.__dict__, "subject_ref": "jane@example.com"}),
        IdentityLinked(subject_ref="b" * 64, linked_ref="nope", occurred_at=at, source="t"),
    ):
        with pytest.raises(InputError):
            validator.check_event(bad)
    link = IdentityLinked(subject_ref="b" * 64, linked_ref="c" * 64, occurred_at=at, source="t")
    validator.check_event(link)
    with pytest.raises(InputError):  # memoised combination, but linked_ref is still checked
        validator.check_event(IdentityLinked(**{**link.__dict__, "linked_ref": "x"}))


CATALOG = """\
version: 1
controller: {name: Test ApS, country: DK}
holders:
  crm: {role: own, country: DK}
  mailchimp:
    role: processor
    country: US
    dpa_signed: 2023-05-01
    transfer: {mechanism: scc, ref: Mailchimp SCC 2021 module 2}
purposes:
  newsletter:
    name: Newsletter to customers (soft opt-in)
    data_use: marketing.communications.email
    legal_basis: legitimate_interests
    legitimate_interest: Newsletter about similar products to existing customers
    data_subjects: [customer]
    categories: [user.contact.email, user.name]
    retention: P2Y from collection
    systems: [crm]
    recipients: [mailchimp]
    transfers: [{recipient: mailchimp}]
"""


def test_sync_names_what_the_catalog_declares(lineage: Lineage, fake: object) -> None:
    from lineage.codec import default_codec
    from lineage.config import resolve
    from lineage.demo.fakeapi import FakeApi
    from lineage.services.app import App

    assert isinstance(fake, FakeApi)
    (lineage.home / "lineage.yaml").write_text(CATALOG)
    toml = lineage.home / "connectors.toml"
    toml.write_text(
        f'[mailchimp]\nbase_url = "{fake.url}/mailchimp/3.0"\n'
        f'api_key = "{fakes.MAILCHIMP_KEY}"\nlist_id = "{fakes.MAILCHIMP_LIST}"\n'
    )
    toml.chmod(0o600)
    lineage.ok("connector", "run", "mailchimp")
    codec = default_codec()
    events = [
        codec.decode_event(e.value)
        for e in App(resolve(lineage.home)).log.read()
        if e.value is not None
    ]
    shared = [e for e in events if e.event_type == "DataShared"]
    moved = [e for e in events if e.event_type == "DataTransferred"]
    assert shared and moved
    for e in shared + moved:
        assert (e.from_holder, e.recipient) == ("crm", "mailchimp")  # type: ignore[attr-defined]
        assert e.legal_basis == "legitimate_interests"  # type: ignore[attr-defined]
        assert e.purpose == "marketing.communications.email"  # type: ignore[attr-defined]
        assert e.retention == "P2Y"  # type: ignore[attr-defined]
    for e in moved:
        assert e.mechanism == "scc"  # type: ignore[attr-defined]
        assert e.mechanism_ref == "Mailchimp SCC 2021 module 2"  # type: ignore[attr-defined]
    # Without the holder in the catalog the connector's own defaults still apply.
    from lineage.catalog.loader import load_catalog
    from lineage.services.connector_defaults import holder_defaults, holder_of

    catalog = load_catalog(lineage.home / "lineage.yaml")
    assert holder_of(catalog, "stripe", "stripe") is None
    assert holder_defaults(catalog, "crm")["transfer_country"] is None
