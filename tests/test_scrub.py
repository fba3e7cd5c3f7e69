"""The scrubber: identifier shapes in free text never reach the log, the projection, state
or output; holders' error bodies are the usual carrier."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lineage.edge.identity import Pseudonymizer
from lineage.edge.scrub import Scrubber, scrub
from tests.conftest import Lineage, collected, configure_erasers, shared
from tests.erasure_api import HolderAPI

PSEUDO = Pseudonymizer(b"scrub-test-key-0123456789abcdef")
JANE = "jane.doe@example.com"
PHONE = "+45 20 11 22 33"


def test_identifier_shapes_are_replaced() -> None:
    s = Scrubber(PSEUDO, {"email": JANE, "name": "Jane Doe"})
    text = (
        f"409: customer {JANE.upper()} (Jane Doe, {PHONE}) has open orders; card "
        "4111 1111 1111 1111, IBAN DK5000400440116243, CPR 010190-1234, SSN 123-45-6789, "
        f"member {hashlib.md5(JANE.encode()).hexdigest()}, other bob@example.org"
    )
    out = s.text(text)
    for raw in (JANE, "Jane Doe", "20 11 22 33", "4111", "DK50", "010190", "123-45", "bob@"):
        assert raw.lower() not in out.lower(), (raw, out)
    # The subject's e-mail becomes its keyed reference, as who-has shows it.
    assert f"[ref:{PSEUDO.ref('email', JANE)[:16]}]" in out
    assert out.count("[redacted]") == 5


def test_what_is_not_an_identifier_stays() -> None:
    text = (
        "restricted (Art. 18) until 2029-01-15T09:35:00Z, then erased; request "
        "3f2a1b2c-1234-5678-9012-123456789012; POST http://127.0.0.1:8765/erase -> 409"
    )
    assert Scrubber(PSEUDO).text(text) == text


def test_long_text_is_bounded_and_scrubbing_twice_changes_nothing() -> None:
    out = scrub("x" * 100 + " jane@example.com " + "y" * 10_000)
    assert len(out) == 300 and out.endswith("…") and "jane@" not in out
    assert scrub(out) == out


@settings(max_examples=150, deadline=None)
@given(
    local=st.from_regex(r"[a-z][a-z0-9._+-]{0,20}[a-z0-9]", fullmatch=True),
    domain=st.from_regex(r"[a-z][a-z0-9-]{0,10}\.(dk|com|org|example)", fullmatch=True),
    before=st.text(max_size=40),
    after=st.text(max_size=40),
)
def test_no_email_survives(local: str, domain: str, before: str, after: str) -> None:
    email = f"{local}@{domain}"
    out = Scrubber(PSEUDO).text(f"{before} {email} {after}")
    assert email not in out
    assert Scrubber(PSEUDO).text(out) == out


def _ref(lineage: Lineage, email: str) -> str:
    return str(lineage.json("who-has", email)["subject"])


def _home_bytes(home: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(home.rglob("*")) if p.is_file())


@pytest.mark.parametrize("status", [409, 400])
def test_a_holders_error_body_is_scrubbed_in_log_projection_and_output(
    lineage: Lineage, status: int
) -> None:
    lineage.emit(
        [
            collected(email=JANE),
            shared(
                email=JANE, recipient="crm", purpose="essential.service", legal_basis="contract"
            ),
        ]
    )
    body = json.dumps(
        {"error": f"customer {JANE} (Jane Doe, {PHONE}) has open orders on card 4111111111111111"}
    ).encode()
    with HolderAPI() as api:
        api.holds("webshop-db", JANE)
        api.script["crm"] = [status]
        api.reply["crm"] = body
        configure_erasers(lineage.home, api.url, ["webshop-db", "crm"])
        result = lineage("erase", JANE, "--id", "name=Jane Doe", "--format", "json")
    assert result.exit_code in (0, 1), result.output
    plan = json.loads(result.stdout)
    [crm] = [t for t in plan["tasks"] if t["holder"] == "crm"]
    assert crm["status"] == ("refused" if status == 409 else "failed")
    lineage.ok("project")
    con = duckdb.connect(str(lineage.home / "projection.duckdb"), read_only=True)
    try:
        reasons = " ".join(
            str(r)
            for r in con.execute(
                "SELECT reason FROM events WHERE holder = 'crm' AND reason IS NOT NULL"
            ).fetchall()
        )
    finally:
        con.close()
    assert "open orders" in reasons and f"[ref:{_ref(lineage, JANE)[:16]}]" in reasons
    everything = _home_bytes(lineage.home) + result.stdout.encode() + result.stderr.encode()
    for raw in (JANE, "Jane Doe", "20 11 22 33", "+4520112233", "4111111111111111"):
        assert raw.encode() not in everything, raw


def test_evidence_and_extension_reasons_are_scrubbed(lineage: Lineage) -> None:
    consent = {
        "event_type": "ConsentGiven",
        "occurred_at": "2024-01-15T09:30:00Z",
        "subject": {"email": JANE},
        "purpose": "marketing.communications.email",
        "evidence": {"channel": f"form signed by {JANE}", "text_version": "v2 call +4520112233"},
    }
    assert lineage.emit([consent]).exit_code == 0
    lineage.ok("project")
    data = _home_bytes(lineage.home)
    assert JANE.encode() not in data and b"4520112233" not in data


def test_a_stored_field_may_combine_several_answers() -> None:
    from datetime import UTC, datetime

    from lineage.events.model import ErasureTaskUpdated

    reason = "e-conomic reports: " + "kept; " * 80 + "restricted (Art. 18) until 2030-12-31"
    event = ErasureTaskUpdated(
        subject_ref="0" * 64,
        occurred_at=datetime(2025, 1, 1, tzinfo=UTC),
        source="test",
        request_id="r1",
        holder="e-conomic",
        status="retained",
        reason=reason + f" for {JANE}",
    )
    clean = Scrubber(PSEUDO).event(event)
    assert isinstance(clean, ErasureTaskUpdated) and clean.reason is not None
    assert clean.reason.startswith(reason) and JANE not in clean.reason
    assert Scrubber(PSEUDO).event(clean) is clean  # nothing left to change: the same object


def test_a_record_that_does_not_decode_is_set_aside_without_quoting_it(lineage: Lineage) -> None:
    from datetime import UTC, datetime

    from lineage.codec import default_codec
    from lineage.config import resolve
    from lineage.events.model import ConsentGiven, Evidence
    from lineage.log.base import LogRecord
    from lineage.log.factory import open_log

    # A foreign producer's record: the consent channel quotes the person and is not UTF-8.
    event = ConsentGiven(
        subject_ref="0" * 64,
        occurred_at=datetime(2024, 1, 1, tzinfo=UTC),
        source="foreign",
        purpose="marketing.communications.email",
        evidence=Evidence(channel=f"form of {JANE}"),
    )
    data = default_codec().encode(event).replace(JANE.encode(), JANE.encode()[:-1] + b"\xff")
    log = open_log(resolve(lineage.home))
    try:
        log.append([LogRecord(data, b"0" * 64)])
    finally:
        log.close()
    result = lineage("project")
    assert result.exit_code == 1 and "set aside log record" in result.stderr
    letters = lineage.json("dlq", "list")
    assert len(letters) == 1
    shown = result.stderr + json.dumps(letters)
    assert JANE[:-1] not in shown and "jane.doe" not in shown
