"""The sample company's events, sourced through the connectors.

``sync_sample_company`` serves the bundled recorded payloads (vendors' real shapes) from a
fake API on 127.0.0.1 and runs every built-in connector against it, so ``lineage demo`` can
show events that came from connectors rather than hand-written JSON.
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from lineage.demo import fakes
from lineage.demo.fakeapi import FakeApi
from lineage.edge.identity import Pseudonymizer
from lineage.ingest.record import Sink
from lineage.ingest.runner import open_connector, run, state_root
from lineage.ingest.state import StateStore

SAMPLE_EMAIL = "jane.doe@example.dk"


def demo_settings(url: str) -> dict[str, dict[str, Any]]:
    """Connector settings pointing at the fake API (keys are the fixtures' fake ones)."""
    exports = Path(str(resources.files("lineage.demo").joinpath("fixtures", "files")))
    return {
        "e-conomic": {
            "base_url": url + "/economic",
            "app_secret_token": fakes.ECONOMIC_SECRET,
            "agreement_grant_token": fakes.ECONOMIC_GRANT,
        },
        "mailchimp": {
            "base_url": url + "/mailchimp/3.0",
            "api_key": fakes.MAILCHIMP_KEY,
            "list_id": fakes.MAILCHIMP_LIST,
        },
        "stripe": {"base_url": url + "/stripe", "api_key": fakes.STRIPE_KEY},
        "quickpay": {"base_url": url + "/quickpay", "api_key": fakes.QUICKPAY_KEY},
        "zendesk-sell": {"base_url": url + "/zendesk", "token": fakes.ZENDESK_TOKEN},
        "files": {
            "exports": {
                "applicants": {
                    "path": str(exports / "applicants.csv"),
                    "id_column": "application_id",
                    "updated_column": "submitted_at",
                    "identifiers": {"email": "email", "phone": "phone"},
                    "columns": {
                        "full_name": "user.name",
                        "email": "user.contact.email",
                        "phone": "user.contact.phone_number",
                        "cv_file": "user.content.private",
                    },
                    "ignore": ["position"],
                    "system": "recruiting-sheet",
                    "purpose": "employment.recruitment",
                    "legal_basis": "legitimate_interests",
                    "data_subject": "job_applicant",
                    "retention": "P6M",
                },
                "gifts": {
                    "path": str(exports / "gifts.jsonl"),
                    "id_column": "shipment",
                    "updated_column": "sent_at",
                    "identifiers": {"email": "email"},
                    "columns": {
                        "name": "user.name",
                        "email": "user.contact.email",
                        "street": "user.contact.address.street",
                        "zip": "user.contact.address.postal_code",
                        "city": "user.contact.address.city",
                    },
                    "system": "webshop-db",  # the shop sends the gift list
                    "recipient": "gavefabrikken",
                    "recipient_role": "controller",
                    "recipient_country": "DK",
                    "purpose": "marketing.advertising.first_party",
                    "legal_basis": "legitimate_interests",
                    "retention": "P3M",
                },
            }
        },
    }


def sync_sample_company(
    pseudo: Pseudonymizer,
    sink: Sink,
    home: Path,
    names: Sequence[str] = (
        "e-conomic",
        "mailchimp",
        "stripe",
        "quickpay",
        "zendesk-sell",
        "files",
    ),
) -> dict[str, dict[str, int]]:
    """Run the connectors against the recorded payloads; ``{connector: {records, events}}``."""
    vendors = fakes.Vendors.recorded()
    counts: dict[str, dict[str, int]] = {}
    with FakeApi() as api:
        vendors.mount(api)
        settings = demo_settings(api.url)
        store = StateStore(state_root(home))
        for name in names:
            connector = open_connector(name, None, settings[name])
            results = run(connector, pseudo, sink, store)
            counts[name] = {
                "records": sum(r.records for r in results),
                "events": sum(r.events for r in results),
            }
    return counts
