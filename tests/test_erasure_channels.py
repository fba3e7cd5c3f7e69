"""Erasure through the e-mail and webhook channels, against real components on 127.0.0.1:
an SMTP server (aiosmtpd), a ``lineage serve`` process where the links are followed, a
webhook receiver that checks signatures and calls back."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from lineage.channels import webhook
from tests.channels import Receiver, smtp_server, status_event
from tests.conftest import Lineage, collected, shared
from tests.serve.conftest import Server, free_port

JANE = "jane@example.com"
SECRET = "s3cret-for-crm-webhooks"


def catalog(crm_url: str = "http://127.0.0.1:9/dsr") -> dict[str, Any]:
    return {
        "version": 1,
        "controller": {"name": "Webshop ApS", "country": "DK", "contact": "dpo@webshop.example"},
        "holders": {
            "webshop-db": {"role": "own", "country": "DK"},
            "gifts": {
                "role": "processor",
                "country": "DK",
                "name": "Gavekompagniet",
                "dpa_signed": "2023-01-01",
                "channel": {"kind": "email", "email": "privacy@gifts.example", "lang": "da"},
            },
            "partner": {
                "role": "controller",
                "country": "DK",
                "channel": {"kind": "email", "email": "dpo@partner.example"},
            },
            "crm": {
                "role": "processor",
                "country": "DK",
                "dpa_signed": "2023-01-01",
                "channel": {"kind": "webhook", "url": crm_url, "secret_file": "secrets/crm"},
            },
        },
        "purposes": {},
    }


def setup(
    lineage: Lineage,
    smtp_port: int,
    public: str,
    crm_url: str | None = None,
    holders: tuple[str, ...] = ("gifts", "partner"),
) -> None:
    cat = catalog(crm_url) if crm_url else catalog()
    (lineage.home / "lineage.yaml").write_text(yaml.safe_dump(cat, sort_keys=False))
    (lineage.home / "secrets").mkdir(exist_ok=True)
    (lineage.home / "secrets" / "crm").write_text(SECRET + "\n")
    (lineage.home / "config.toml").write_text(
        f'smtp_host = "127.0.0.1"\nsmtp_port = {smtp_port}\nsmtp_tls = "none"\n'
        f'smtp_from = "privacy@webshop.example"\npublic_url = "{public}"\n'
    )
    events = [collected()]
    roles = {"gifts": "processor", "partner": "controller", "crm": "processor"}
    for h in holders:
        events.append(
            shared(
                recipient=h,
                recipient_role=roles[h],
                purpose="essential.service",
                legal_basis="contract",
                categories=["user.name"],
                retention=None,
            )
        )
    events = [{k: v for k, v in e.items() if v is not None} for e in events]
    lineage.ok("emit", "--file", "-", input="".join(json.dumps(e) + "\n" for e in events))


def tasks(lineage: Lineage, rid: str) -> dict[str, dict[str, Any]]:
    req = lineage.json("erasure", "status", rid)["requests"][0]
    return {t["holder"]: t for t in req["tasks"]}


def event_count(lineage: Lineage, rid: str) -> int:
    return len(lineage.json("erasure", "evidence", rid.rstrip()).get("events", [])) if rid else 0


def link_of(msg: Any) -> str:
    body = msg.get_body(("plain",)).get_content()
    return re.search(r"https?://\S+/hooks/channels/answer/\S+", body).group(0)  # type: ignore[union-attr]


@pytest.fixture
def smtp() -> Iterator[tuple[int, Any]]:
    port = free_port()
    controller, box = smtp_server(port)
    try:
        yield port, box
    finally:
        box.release.set()
        controller.stop()


def test_email_batch_link_answer_and_evidence(lineage: Lineage, smtp: tuple[int, Any]) -> None:
    port, box = smtp
    server = Server(lineage.home)
    setup(lineage, port, server.url)
    plan = lineage.json("erase", JANE)
    rid = plan["request_id"]
    # One message per recipient, in the recipient's language, naming what the issue asks.
    (gifts,) = box.to("privacy@gifts.example")
    (partner,) = box.to("dpo@partner.example")
    text = gifts.get_body(("plain",)).get_content()
    assert rid in text and "user.name" in text and JANE in text
    assert "art. 28, stk. 3, litra g" in text and "Kære Gavekompagniet" in text
    assert "Art. 19" in partner.get_body(("plain",)).get_content()
    state = tasks(lineage, rid)
    assert state["gifts"]["status"] == "notified" and state["gifts"]["step"] == "sent"
    assert state["gifts"]["message_id"] == gifts["Message-ID"]
    assert state["partner"]["status"] == "notified", "a notice delivered is the Art. 19 duty done"
    log = b"".join(p.read_bytes() for p in (lineage.home / "log").rglob("*") if p.is_file())
    assert JANE.encode() not in log, "identifiers go to the recipient only"

    for scope in ("read", "ingest", "rights", "admin"):
        server.token(scope)
    server.start()
    try:
        link = link_of(gifts)
        page = httpx.get(link, timeout=10)
        assert page.status_code == 200 and "Gavekompagniet" not in page.text
        assert "no-referrer" in page.headers["referrer-policy"]
        forged = link[:-3] + ("AAA" if not link.endswith("AAA") else "BBB")
        assert httpx.get(forged, timeout=10).status_code == 403
        answer = {
            "answer": "confirmed",
            "reason": "deleted on " + JANE,
            "sub_processors": "Fragt ApS",
        }
        done = httpx.post(link, data=answer, timeout=10)
        assert done.status_code == 200, done.text
        again = httpx.post(link, data=answer, timeout=10)
        assert again.status_code == 409, "single use"
        assert httpx.post(forged, data=answer, timeout=10).status_code == 403
        bad = httpx.post(link_of(partner), data={"answer": "refused"}, timeout=10)
        assert bad.status_code == 422, "a refusal needs its reason"
        named = {"answer": "confirmed", "sub_processors": f"Mail for {JANE}"}
        assert httpx.post(link_of(partner), data=named, timeout=10).status_code == 422
        flood = {"answer": "confirmed", "sub_processors": "\n".join(f"S{i}" for i in range(30))}
        assert httpx.post(link_of(partner), data=flood, timeout=10).status_code == 422
    finally:
        server.stop()
    state = tasks(lineage, rid)
    g = state["gifts"]
    assert g["status"] == "confirmed" and g["step"] == "confirmed"
    assert JANE not in g["note"] and "[ref:" in g["note"], "the recipient's words are scrubbed"
    assert [(h["status"], h["step"]) for h in g["history"]] == [
        ("planned", None),
        ("sending", None),
        ("notified", "sent"),
        ("notified", "opened"),
        ("confirmed", "confirmed"),
    ]
    assert state["Fragt ApS"]["status"] == "planned", "a named sub-processor becomes a task"
    assert "named by gifts" in state["Fragt ApS"]["reason"]
    assert state["partner"]["status"] == "notified", "the rejected forms recorded nothing"
    assert set(state) == {"webshop-db", "gifts", "partner", "Fragt ApS"}

    doc = lineage.json("erasure", "evidence", rid)
    bundle = lineage.home.parent / "bundle.json"
    bundle.write_text(json.dumps(doc))
    assert lineage.json("erasure", "verify", str(bundle))["log_checked"] is True
    assert all(e["sha256"] and "offset" in e["position"] for e in doc["events"])
    assert {"sent", "opened", "confirmed"} <= {e.get("step") for e in doc["events"]}
    doc["request"]["tasks"][0]["status"] = "confirmed!"
    bundle.write_text(json.dumps(doc))
    changed = lineage("erasure", "verify", str(bundle))
    assert changed.exit_code == 1 and "signature does not match" in changed.stderr
    out = lineage.home.parent / "evidence"
    lineage.ok("erasure", "evidence", rid, "--out", str(out), "--lang", "da")
    assert "Dokumentation for anmodning" in (out / f"{rid}.html").read_text()


def test_smtp_down_or_refusing_fails_with_the_reason_and_retries(lineage: Lineage) -> None:
    port = free_port()
    setup(lineage, port, "http://127.0.0.1:1")
    rid = lineage.json("erase", JANE, "--retries", "1")["request_id"]
    state = tasks(lineage, rid)
    assert state["gifts"]["status"] == "failed"
    assert "unreachable" in state["gifts"]["note"] and "transient" in state["gifts"]["note"]
    assert "unreachable" in lineage.ok("erasure", "status", rid).stdout
    controller, box = smtp_server(port)
    try:
        box.refuse.add("privacy@gifts.example")
        lineage.ok("erasure", "retry", rid, "--id", f"email={JANE}", "--retries", "1")
        state = tasks(lineage, rid)
        assert state["gifts"]["status"] == "failed" and "terminal" in state["gifts"]["note"]
        assert "privacy@gifts.example" not in state["gifts"]["note"], "scrubbed"
        assert state["partner"]["step"] == "sent"
        box.refuse.clear()
        lineage.ok("erasure", "retry", rid, "--holder", "gifts", "--id", f"email={JANE}")
        assert tasks(lineage, rid)["gifts"]["step"] == "sent"
        assert len(box.to("privacy@gifts.example")) == 1
        assert len(box.to("dpo@partner.example")) == 1, "nobody gets a message twice"
    finally:
        controller.stop()


def test_webhook_signed_request_retry_and_callback(lineage: Lineage, smtp: tuple[int, Any]) -> None:
    port, _box = smtp
    calls: list[int] = []

    def reply(doc: dict[str, Any]) -> tuple[int, Any]:
        calls.append(1)
        if len(calls) == 1:
            return 500, None  # transient: retried with backoff
        return 200, {
            "apiVersion": webhook.API_VERSION,
            "kind": "DeleteResponse",
            "metadata": doc["metadata"],
            "response": {"status": "in_progress"},
        }

    receiver = Receiver(SECRET.encode(), reply)
    server = Server(lineage.home)
    try:
        setup(lineage, port, server.url, receiver.url, holders=("crm",))
        rid = lineage.json("erase", JANE, "--backoff", "0.01")["request_id"]
        assert len(receiver.received) == 2 and receiver.bad_signatures == 0
        doc = receiver.received[-1]
        assert doc["request"]["identities"] == [
            {"identitySpace": "email", "identityFormat": "raw", "identityValue": JANE}
        ]
        assert doc["request"]["legalBasis"] == "Art. 28(3)(g)"
        crm = tasks(lineage, rid)["crm"]
        assert crm["status"] == "notified" and crm["step"] == "delivered"
        assert [h["status"] for h in crm["history"]][1:4] == ["sending", "failed", "sending"]
        callback = doc["request"]["callbacks"][0]["url"]
        uid = doc["metadata"]["uid"]
        for scope in ("read", "ingest", "rights", "admin"):
            server.token(scope)
        server.start()
        body = status_event(uid, "completed")
        forged = webhook.headers(b"not the secret", body, uid)
        assert httpx.post(callback, content=body, headers=forged).status_code == 401
        old = webhook.headers(SECRET.encode(), body, uid, now=time.time() - 3600)
        assert httpx.post(callback, content=body, headers=old).status_code == 401
        signed = webhook.headers(SECRET.encode(), body, uid)
        ok = httpx.post(callback, content=body, headers=signed)
        assert ok.status_code == 200 and ok.json()["recorded"], ok.text
        replay = httpx.post(callback, content=body, headers=signed)
        assert replay.status_code == 409, "replayed: nothing recorded"
        wrong = callback.replace("/callback/", "/answer/")
        assert httpx.post(wrong, content=body, headers=signed).status_code == 403
    finally:
        server.stop()
        receiver.close()
    req = lineage.json("erasure", "status", rid)["requests"][0]
    crm = {t["holder"]: t for t in req["tasks"]}["crm"]
    assert crm["status"] == "confirmed" and "webhook callback" in crm["note"]
    assert sum(h["status"] == "confirmed" for h in crm["history"]) == 1
    lineage.ok("erasure", "confirm", rid, "--holder", "webshop-db")
    assert lineage.json("erasure", "status", rid)["requests"][0]["status"] == "completed"


def test_webhook_timeout_fails_with_the_reason(lineage: Lineage, smtp: tuple[int, Any]) -> None:
    port, _box = smtp

    def slow(doc: dict[str, Any]) -> tuple[int, Any]:
        time.sleep(1.5)
        return 200, None

    receiver = Receiver(SECRET.encode(), slow)
    try:
        setup(lineage, port, "http://127.0.0.1:1", receiver.url, holders=("crm",))
        rid = lineage.json(
            "erase", JANE, "--timeout", "0.3", "--retries", "2", "--backoff", "0.01"
        )["request_id"]
    finally:
        receiver.close()
    crm = tasks(lineage, rid)["crm"]
    assert crm["status"] == "failed" and "no answer within 0.3s" in crm["note"]
    assert crm["attempts"] == 2


def test_sender_killed_mid_batch_resumes_without_repeats(
    lineage: Lineage, smtp: tuple[int, Any]
) -> None:
    port, box = smtp
    setup(lineage, port, "http://127.0.0.1:1")
    # gifts is sent first (deepest, then by name: gifts < partner); stall partner's message.
    box.stall_for = "dpo@partner.example"
    proc = subprocess.Popen(
        lineage.command("erase", JANE, "--format", "json"),
        env=lineage.process_env(),
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert box.stalled.wait(30), "the sender never reached the second recipient"
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        assert proc.stdout is not None
        proc.stdout.close()
    box.stall_for = None
    box.release.set()
    rid = lineage.json("erasure", "status")["requests"][0]["request_id"]
    state = tasks(lineage, rid)
    assert state["gifts"]["step"] == "sent" and state["partner"]["status"] == "sending"
    lineage.ok("erasure", "run", rid, "--id", f"email={JANE}")
    assert len(box.to("privacy@gifts.example")) == 1, "not sent twice"
    (partner,) = box.to("dpo@partner.example")
    assert partner["Message-ID"] == state["partner"]["message_id"], "the same message, resumed"
    assert tasks(lineage, rid)["partner"]["step"] == "sent"


def test_reminder_before_the_deadline(lineage: Lineage, smtp: tuple[int, Any]) -> None:
    port, box = smtp
    setup(lineage, port, "http://127.0.0.1:1", holders=("gifts",))
    rid = lineage.json("erase", JANE, "--received-at", "2020-01-01T00:00:00Z")["request_id"]
    assert lineage.json("erasure", "remind") == {"reminded": 0}, "not the day it was sent"
    from datetime import timedelta

    from lineage.cli.erasure import service_for
    from lineage.config import resolve
    from lineage.services.app import App
    from lineage.timeutil import now

    later = service_for(App(resolve(lineage.home)), clock=lambda: now() + timedelta(days=2))
    assert later.remind() == 1
    assert later.remind() == 0, "one reminder"
    first, reminder = box.to("privacy@gifts.example")
    assert reminder["In-Reply-To"] == first["Message-ID"]
    assert "Påmindelse" in reminder["Subject"] and link_of(first) == link_of(reminder)
    assert tasks(lineage, rid)["gifts"]["history"][-1]["step"] == "reminded"


def test_catalog_channel_errors_are_line_numbered(lineage: Lineage, tmp_path: Path) -> None:
    cat = catalog()
    cat["holders"]["crm"]["channel"] = {
        "kind": "webhook",
        "url": "http://crm.example/x",
        "secret_env": "X",
        "secret_file": "y",
    }
    cat["holders"]["gifts"]["channel"] = {"kind": "mail"}
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(cat, sort_keys=False))
    result = lineage("catalog", "validate", str(path))
    assert result.exit_code == 2
    assert "unknown channel 'mail'" in result.output and "https://" in result.output
    assert "secret_env or secret_file" in result.output


def test_webhook_answers_at_once_and_names_sub_processors(
    lineage: Lineage, smtp: tuple[int, Any]
) -> None:
    port, _box = smtp
    subs = {JANE: ["Hosting A/S"], "bo@example.com": ["Hosting for bo@example.com"]}

    def reply(doc: dict[str, Any]) -> tuple[int, Any]:
        who = doc["request"]["identities"][0]["identityValue"]
        answer = {"status": "completed", "subProcessors": subs[who]}
        return 200, {"apiVersion": webhook.API_VERSION, "metadata": doc["metadata"],
                     "response": answer}  # fmt: skip

    receiver = Receiver(SECRET.encode(), reply)
    try:
        setup(lineage, port, "http://127.0.0.1:1", receiver.url, holders=("crm",))
        bo = [collected("bo@example.com"), shared("bo@example.com", recipient="crm",
              recipient_role="processor", purpose="essential.service", legal_basis="contract",
              categories=["user.name"])]  # fmt: skip
        lineage.ok("emit", "--file", "-", input="".join(json.dumps(e) + "\n" for e in bo))
        jane = lineage.json("erase", JANE)["request_id"]
        bos = lineage.json("erase", "bo@example.com")["request_id"]
    finally:
        receiver.close()
    state = tasks(lineage, jane)
    assert state["crm"]["status"] == "confirmed" and state["crm"]["step"] == "confirmed"
    assert state["Hosting A/S"]["status"] == "planned"
    state = tasks(lineage, bos)
    assert set(state) == {"webshop-db", "crm"}, "a name carrying an identifier is no company"
    assert state["crm"]["status"] == "notified" and "not understood" in state["crm"]["note"]


def test_starttls_and_login(lineage: Lineage, tmp_path: Path, monkeypatch: Any) -> None:
    import shutil
    import ssl

    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make the test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
         "-out", str(cert), "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # the client trusts this server only
    port = free_port()
    controller, box = smtp_server(port, context)
    try:
        setup(lineage, port, "http://127.0.0.1:1", holders=("gifts",))
        config = lineage.home / "config.toml"
        config.write_text(config.read_text().replace('smtp_tls = "none"', 'smtp_tls = "starttls"'))
        rid = lineage.json("erase", JANE)["request_id"]
        assert tasks(lineage, rid)["gifts"]["step"] == "sent"
        assert len(box.to("privacy@gifts.example")) == 1
        # Credentials never go over plain SMTP: refused before connecting.
        config.write_text(
            config.read_text().replace('smtp_tls = "starttls"', 'smtp_tls = "none"')
            + 'smtp_user = "shop"\n'
        )
        from lineage.channels.email import Smtp
        from lineage.config import resolve
        from lineage.errors import ConfigError

        with pytest.raises(ConfigError, match="never sent without TLS"):
            Smtp(resolve(lineage.home))
    finally:
        controller.stop()


def test_who_has_and_audit_show_the_channel_steps_and_failures(lineage: Lineage) -> None:
    setup(lineage, free_port(), "http://127.0.0.1:1", holders=("gifts",))
    rid = lineage.json("erase", JANE, "--received-at", "2020-01-01T00:00:00Z", "--retries", "1")[
        "request_id"
    ]
    (req,) = lineage.json("who-has", JANE)["requests"]
    gifts = {t["holder"]: t for t in req["tasks"]}["gifts"]
    assert (gifts["channel"], gifts["step"], gifts["status"]) == ("email", "failed", "failed")
    assert gifts["updated_at"]
    audit = json.loads(lineage("audit", "--format", "json").stdout)
    (finding,) = [f for f in audit["findings"] if f["rule"] == "erasure-overdue"]
    assert finding["evidence"]["request_id"] == rid
    assert "unreachable" in finding["evidence"]["failed"]["gifts"]
    assert "gifts failed: transient" in finding["message"]
