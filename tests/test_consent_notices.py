"""Consent withdrawal reaches the recipients, against real components on 127.0.0.1: an SMTP
server (aiosmtpd) for the Danish and English notices, a ``lineage serve`` process where the
confirmation link is followed, the Mailchimp-shaped fake API that takes the unsubscribe, a
webhook receiver that checks the signature."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import yaml

from lineage.channels import webhook
from lineage.demo import fakes
from lineage.demo.connectors import SAMPLE_EMAIL
from lineage.demo.fakeapi import FakeApi
from tests.channels import Receiver, smtp_server
from tests.conftest import Lineage, collected, shared
from tests.connectors.test_erasure_connectors import write_settings
from tests.serve.conftest import Server, free_port

JANE = SAMPLE_EMAIL  # a member of the fake Mailchimp list
SECRET = "s3cret-for-crm-webhooks"
# Recipient -> (role, data use it received data under, categories).
FLOWS = {
    "mailchimp": ("processor", "marketing.communications.email", ["user.contact.email"]),
    "stripe": ("processor", "marketing.communications", ["user.name"]),
    "gifts": ("processor", "marketing.communications.email", ["user.name"]),
    "partner": ("controller", "marketing.advertising", ["user.contact.email"]),
    "crm": ("processor", "marketing.communications.sms", ["user.contact.phone_number"]),
    "books": ("processor", "essential.service", ["user.name"]),
}


def catalog(crm_url: str) -> dict[str, Any]:
    def processor(**extra: Any) -> dict[str, Any]:
        return {"role": "processor", "country": "DK", "dpa_signed": "2023-01-01", **extra}

    return {
        "version": 1,
        "controller": {"name": "Webshop ApS", "country": "DK", "contact": "dpo@webshop.example"},
        "holders": {
            "webshop-db": {"role": "own", "country": "DK"},
            "mailchimp": processor(eraser="mailchimp", channel={"kind": "api"}),
            # An API without an unsubscribe call: told at its privacy address instead.
            "stripe": processor(
                eraser="stripe", channel={"kind": "api", "email": "privacy@stripe.example"}
            ),
            "gifts": processor(
                name="Gavekompagniet",
                channel={"kind": "email", "email": "privacy@gifts.example", "lang": "da"},
            ),
            "partner": {
                "role": "controller",
                "country": "DK",
                "channel": {"kind": "email", "email": "dpo@partner.example"},
            },
            "crm": processor(
                channel={"kind": "webhook", "url": crm_url, "secret_file": "secrets/crm"}
            ),
            "books": processor(channel={"kind": "email", "email": "privacy@books.example"}),
        },
        "purposes": {},
    }


def events(email: str = JANE) -> list[dict[str, Any]]:
    out = [collected(email)]
    for holder, (role, use, cats) in FLOWS.items():
        basis = "contract" if use.startswith("essential") else "consent"
        out.append(
            shared(email, recipient=holder, recipient_role=role, purpose=use,
                   legal_basis=basis, categories=cats, retention=None)
        )  # fmt: skip
    return [{k: v for k, v in e.items() if v is not None} for e in out]


class Shop:
    def __init__(self, lineage: Lineage, box: Any, api: FakeApi, vendors: Any, hook: Receiver):
        self.lineage, self.box, self.api, self.vendors, self.hook = lineage, box, api, vendors, hook

    def tasks(self, rid: str) -> dict[str, dict[str, Any]]:
        req = self.lineage.json("erasure", "status", rid)["requests"][0]
        return {t["holder"]: t for t in req["tasks"]}

    def patches(self) -> list[tuple[str, int]]:
        return [(path, code) for _, method, path, code in self.api.log if method == "PATCH"]


def answer_now(doc: dict[str, Any]) -> tuple[int, Any]:
    return 200, {
        "apiVersion": webhook.API_VERSION,
        "kind": "ConsentWithdrawalResponse",
        "metadata": doc["metadata"],
        "response": {"status": "completed"},
    }


@pytest.fixture
def shop(lineage: Lineage) -> Iterator[Shop]:
    port = free_port()
    controller, box = smtp_server(port)
    hook = Receiver(SECRET.encode(), answer_now)
    vendors = fakes.Vendors.recorded()
    try:
        with FakeApi() as api:
            vendors.mount(api)
            write_settings(lineage.home, api.url)
            home = lineage.home
            (home / "lineage.yaml").write_text(yaml.safe_dump(catalog(hook.url), sort_keys=False))
            (home / "secrets").mkdir(exist_ok=True)
            (home / "secrets" / "crm").write_text(SECRET + "\n")
            (home / "config.toml").write_text(
                f'smtp_host = "127.0.0.1"\nsmtp_port = {port}\nsmtp_tls = "none"\n'
                'smtp_from = "privacy@webshop.example"\npublic_url = "http://127.0.0.1:1"\n'
            )
            result = lineage.emit(events())
            assert result.exit_code == 0, result.output
            yield Shop(lineage, box, api, vendors, hook)
    finally:
        hook.close()
        box.release.set()
        controller.stop()


def body(msg: Any) -> str:
    return str(msg.get_body(("plain",)).get_content())


def test_withdrawal_tells_every_recipient_under_the_use_through_its_channel(shop: Shop) -> None:
    lineage = shop.lineage
    plan = lineage.json("consent", "withdraw", JANE, "--use", "marketing", "--backoff", "0")
    rid = plan["request_id"]
    assert plan["kind"] == "withdrawal" and plan["purpose"] == "marketing"
    state = shop.tasks(rid)
    # Every recipient of data under a marketing use, none under essential.service, not us.
    assert set(state) == {"mailchimp", "stripe", "gifts", "partner", "crm"}
    channels = {h: t["channel"] for h, t in state.items()}
    assert channels == {"mailchimp": "api", "stripe": "email", "gifts": "email",
                        "partner": "email", "crm": "webhook"}  # fmt: skip

    # Mailchimp: the real unsubscribe, on the member's subscriber hash.
    member = hashlib.md5(JANE.lower().encode()).hexdigest()
    assert shop.patches() == [
        (f"/mailchimp/3.0/lists/{fakes.MAILCHIMP_LIST}/members/{member}", 200)
    ]
    assert next(m for m in shop.vendors.mailchimp.members if m["id"] == member)["status"] == (
        "unsubscribed"
    )
    assert state["mailchimp"]["status"] == "confirmed" and state["mailchimp"]["channel"] == "api"

    # E-mail: in the recipient's language, naming the purpose and the categories.
    (gifts,) = shop.box.to("privacy@gifts.example")
    (partner,) = shop.box.to("dpo@partner.example")
    (stripe,) = shop.box.to("privacy@stripe.example")
    assert not shop.box.to("privacy@books.example")
    da, en = body(gifts), body(partner)
    assert "trukket sit samtykke" in da and "Formål: marketing" in da and "art. 7, stk. 3" in da
    assert "withdrew their consent" in en and "Purpose: marketing" in en and "Art. 7(3)" in en
    assert "user.contact.email" in en and JANE in en and rid in en
    assert "user.name" in body(stripe)
    assert "tilbagetrækning af samtykke" in gifts["Subject"]

    # Webhook: the signed notice names the purpose; the answer confirms at once.
    (doc,) = shop.hook.received
    assert shop.hook.bad_signatures == 0
    assert doc["kind"] == "ConsentWithdrawalNotice" and doc["request"]["purpose"] == "marketing"
    assert doc["request"]["categories"] == ["user.contact.phone_number"]
    assert state["crm"]["status"] == "confirmed"

    # The withdrawal is on record (who-has shows it), the e-mail address nowhere in the log.
    who = lineage.json("who-has", JANE)
    (request,) = [q for q in who["requests"] if q["request_id"] == rid]
    assert request["kind"] == "withdrawal" and request["purpose"] == "marketing"
    assert {t["holder"]: t["step"] for t in request["tasks"]}["gifts"] == "sent"
    mail = next(h for h in who["holders"] if h["holder"] == "mailchimp")
    assert mail["purposes"][0]["consent_withdrawn_at"]
    log = b"".join(p.read_bytes() for p in (lineage.home / "log").rglob("*") if p.is_file())
    assert JANE.encode() not in log
    listing = lineage.ok("erasure", "status").stdout
    assert "withdrawal" in listing and "marketing" in listing


def test_the_recipient_confirms_through_the_link_at_lineage_serve(shop: Shop) -> None:
    lineage = shop.lineage
    server = Server(lineage.home)
    config = lineage.home / "config.toml"
    config.write_text(config.read_text().replace("http://127.0.0.1:1", server.url))
    rid = lineage.json("consent", "withdraw", JANE, "--use", "marketing.communications.email")[
        "request_id"
    ]
    assert set(shop.tasks(rid)) == {"mailchimp", "gifts"}, "only the narrower use's recipients"
    (gifts,) = shop.box.to("privacy@gifts.example")
    link = re.search(r"https?://\S+/hooks/channels/answer/\S+", body(gifts)).group(0)  # type: ignore[union-attr]
    server.token("admin")
    server.start()
    try:
        assert httpx.get(link, timeout=10).status_code == 200
        done = httpx.post(link, data={"answer": "confirmed"}, timeout=10)
        assert done.status_code == 200, done.text
    finally:
        server.stop()
    g = shop.tasks(rid)["gifts"]
    assert (g["status"], g["step"]) == ("confirmed", "confirmed")
    assert lineage.json("erasure", "status", rid)["requests"][0]["status"] == "completed"


def test_withdrawals_from_ingest_are_picked_up_once_and_not_sent_back(shop: Shop) -> None:
    lineage = shop.lineage
    unsubscribed = {
        "event_type": "ConsentWithdrawn",
        "occurred_at": (datetime.now(UTC) - timedelta(hours=1)).isoformat(),
        "source": "mailchimp",  # Mailchimp's unsubscribe webhook: it knows already
        "subject": {"email": JANE},
        "purpose": "marketing.communications.email",
        "evidence": {"channel": "mailchimp unsubscribe"},
    }
    assert lineage.emit([unsubscribed], name="w.jsonl").exit_code == 0
    first = lineage.json("consent", "notices")
    (req,) = first["opened"]
    assert req["purpose"] == "marketing.communications.email" and req["withdrawal_id"]
    assert {t["holder"] for t in req["tasks"]} == {"gifts"}, "Mailchimp is not told again"
    assert shop.patches() == []
    # No identifiers are kept: the e-mail waits for them, and says how to give them.
    assert req["tasks"][0]["status"] == "failed" and "--id" in req["tasks"][0]["note"]
    assert lineage.json("consent", "notices") == {"opened": []}, "a second run opens nothing"
    assert "no withdrawal without its notices" in lineage.ok("consent", "notices").stdout
    assert len(lineage.json("erasure", "status")["requests"]) == 1
    audit = json.loads(lineage("audit", "--format", "json").stdout)
    (finding,) = [f for f in audit["findings"] if f["rule"] == "withdrawal-notice-failed"]
    assert finding["holder"] == "gifts" and finding["purpose"] == req["purpose"]
    lineage.ok("erasure", "run", req["request_id"], "--id", f"email={JANE}")
    assert shop.tasks(req["request_id"])["gifts"]["step"] == "sent"
    assert len(shop.box.to("privacy@gifts.example")) == 1


def test_mailchimp_retried_after_500_and_404_is_nothing_held(shop: Shop) -> None:
    lineage = shop.lineage
    shop.api.fault(r"/members/[0-9a-f]+$", 500, method="PATCH")
    rid = lineage.json(
        "consent", "withdraw", JANE, "--use", "marketing.communications.email", "--backoff", "0"
    )["request_id"]
    assert [code for _, code in shop.patches()] == [500, 200]
    assert shop.tasks(rid)["mailchimp"]["status"] == "confirmed"

    other = "not.on.the.list@example.dk"
    assert lineage.emit(events(other), name="other.jsonl").exit_code == 0
    rid = lineage.json("consent", "withdraw", other, "--use", "marketing")["request_id"]
    assert shop.patches()[-1][1] == 404
    m = shop.tasks(rid)["mailchimp"]
    assert (m["status"], m["step"]) == ("confirmed", "nothing_held"), "the task settles"


def test_smtp_refusing_fails_with_a_scrubbed_reason_and_retry_sends(shop: Shop) -> None:
    lineage = shop.lineage
    shop.box.refuse.add("privacy@gifts.example")
    rid = lineage.json(
        "consent", "withdraw", JANE, "--use", "marketing.communications", "--retries", "1"
    )["request_id"]
    g = shop.tasks(rid)["gifts"]
    assert g["status"] == "failed" and g["note"].startswith("terminal: recipient refused: 550")
    assert "privacy@gifts.example" not in g["note"], "scrubbed"
    shop.box.refuse.clear()
    lineage.ok("erasure", "retry", rid, "--holder", "gifts", "--id", f"email={JANE}")
    assert shop.tasks(rid)["gifts"]["step"] == "sent"
    assert len(shop.box.to("privacy@gifts.example")) == 1
    assert len(shop.box.to("privacy@stripe.example")) == 1, "nobody is told twice"


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        (("--use", "marketing.nonsense"), "--use"),
        (("--use", " "), "--use"),
        (("--use", "user.name"), "--use"),
    ],
)
def test_bad_withdrawals_are_one_line_and_record_nothing(
    lineage: Lineage, args: tuple[str, ...], problem: str
) -> None:
    lineage.emit(events())
    result = lineage("consent", "withdraw", JANE, *args)
    assert result.exit_code != 0 and problem in result.stderr
    assert result.stderr.strip().count("\n") == 0 and "Traceback" not in result.output
    assert lineage.json("erasure", "status") == {"requests": []}
    rows = lineage.json("who-has", JANE)["holders"]
    assert not any(p.get("consent_withdrawn_at") for h in rows for p in h["purposes"])


def test_withdraw_needs_the_use_and_the_person(lineage: Lineage) -> None:
    result = lineage("consent", "withdraw", JANE)
    assert result.exit_code == 2 and "--use" in result.output
    result = lineage("consent", "withdraw", "--use", "marketing")
    assert result.exit_code == 2 and "give an IDENTIFIER" in result.stderr
    assert "Traceback" not in result.output
    assert lineage.json("erasure", "status") == {"requests": []}


def test_api_sends_rectification_restriction_and_withdrawal_as_the_cli_does(shop: Shop) -> None:
    lineage = shop.lineage
    server = Server(lineage.home)
    server.token("read")
    server.token("rights")
    server.start()
    try:
        with server.client("rights") as c:
            rect = c.post("/v1/rectify", json={"identifier": JANE, "categories": ["user.name"]})
            assert rect.status_code == 200, rect.text
            assert len(shop.box.to("privacy@gifts.example")) == 1, "sent at once"
            withdrawn = c.post(
                "/v1/consent/withdraw", json={"identifier": JANE, "use": "marketing"}
            )
            assert withdrawn.status_code == 200, withdrawn.text
            bad = c.post("/v1/consent/withdraw", json={"identifier": JANE, "use": "nonsense"})
            assert bad.status_code == 422 and bad.json()["where"] == "use"
            missing = c.post("/v1/consent/withdraw", json={"identifier": JANE})
            assert missing.status_code == 422 and missing.json()["where"] == "body.use"
            restrict = c.post("/v1/restrict", json={"ids": {"email": JANE}})
            assert restrict.status_code == 200
            again = c.post("/v1/consent/notices", json={})
            assert again.json() == {"opened": []}, "the API's withdrawal has its notices"
        with server.client("read") as c:
            api = {
                rid: c.get(f"/v1/erasure/requests/{rid}").json()
                for rid in (rect.json()["request_id"], withdrawn.json()["request_id"])
            }
    finally:
        server.stop()
    # Rectification, restriction, withdrawal: each recipient's e-mail went out once.
    assert len(shop.box.to("privacy@gifts.example")) == 3
    assert shop.patches()[-1][1] == 200
    for rid, answer in api.items():
        assert lineage.json("erasure", "status", rid) == answer
    log = b"".join(p.read_bytes() for p in (lineage.home / "log").rglob("*") if p.is_file())
    assert JANE.encode() not in log, "the identifiers in the body were used, not recorded"
    assert json.loads(json.dumps(withdrawn.json()))["tasks"][0]["status"] != "planned"
