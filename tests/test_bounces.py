"""Delivery reports that arrive later by mail: Postfix and Exim shapes sent through a real
SMTP server into a Maildir, read with `lineage erasure bounces` (Maildir, mbox, stdin) and
`POST /v1/erasure/bounces` on a real `lineage serve`."""

from __future__ import annotations

import json
import mailbox
import time
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lineage.channels.dsn import DELAYED, FAILED, parse
from lineage.errors import InputError
from tests import dsn
from tests.conftest import Lineage
from tests.serve.conftest import Server, free_port
from tests.test_erasure_channels import JANE, event_count, setup, smtp, tasks

__all__ = ["smtp"]  # the SMTP server fixture the requests go out through

GIFTS, PARTNER = "privacy@gifts.example", "dpo@partner.example"


def log_bytes(lineage: Lineage) -> bytes:
    return b"".join(p.read_bytes() for p in (lineage.home / "log").rglob("*") if p.is_file())


def sent(lineage: Lineage, smtp: tuple[int, Any]) -> tuple[str, Message, Message]:
    port, box = smtp
    setup(lineage, port, "http://127.0.0.1:1")
    rid = lineage.json("erase", JANE)["request_id"]
    (gifts,) = box.to(GIFTS)
    (partner,) = box.to(PARTNER)
    state = tasks(lineage, rid)
    assert state["gifts"]["step"] == "sent" and state["partner"]["step"] == "sent"
    return rid, gifts, partner


def test_late_bounce_fails_the_task_once_and_retry_sends_again(
    lineage: Lineage, smtp: tuple[int, Any], tmp_path: Path
) -> None:
    rid, gifts, partner = sent(lineage, smtp)
    maildir = tmp_path / "Maildir"
    port = free_port()
    with dsn.maildir_server(maildir, port):
        dsn.deliver(
            port,
            dsn.postfix(gifts),  # hours later: the address does not exist
            dsn.exim(partner, delayed=True),  # still being retried
            dsn.postfix(dsn.original(GIFTS)),  # a message lineage never sent
            dsn.plain(),  # an auto-reply, not a report
        )
    assert len(mailbox.Maildir(maildir, create=False)) == 4
    summary = lineage.json("erasure", "bounces", str(maildir))
    assert summary["messages"] == {
        "read": 4,
        "not_delivery_reports": 1,
        "malformed": 0,
        "unmatched": 1,
        "delivered": 0,
    }
    assert summary["tasks"]["bounced"] == 1 and summary["tasks"]["delayed"] == 1
    state = tasks(lineage, rid)
    g, p = state["gifts"], state["partner"]
    assert (g["status"], g["step"]) == ("failed", "bounced")
    assert g["note"].startswith("terminal: bounced 5.1.1: 550 5.1.1 <[ref:"), g["note"]
    assert GIFTS not in g["note"] and "User unknown" in g["note"]
    assert (p["status"], p["step"]) == ("notified", "delayed"), "a delay fails nothing"
    assert "4.0.0" in p["note"]
    log = log_bytes(lineage)
    assert GIFTS.encode() not in log and PARTNER.encode() not in log, "scrubbed"
    assert g["message_id"] == gifts["Message-ID"], "the evidence names the message that bounced"

    # The same mailbox read again records nothing.
    events = event_count(lineage, rid)
    again = lineage.json("erasure", "bounces", str(maildir))
    assert again["tasks"] == {
        "bounced": 0,
        "delayed": 0,
        "already_recorded": 2,
        "already_answered": 0,
    }
    assert event_count(lineage, rid) == events
    assert "failed" in lineage.ok("erasure", "status", rid).stdout

    # `erasure retry` sends it again, under a new Message-ID; the old bounce stays old.
    lineage.ok("erasure", "retry", rid, "--holder", "gifts", "--id", f"email={JANE}")
    first, second = smtp[1].to(GIFTS)
    assert second["Message-ID"] != first["Message-ID"]
    assert tasks(lineage, rid)["gifts"]["step"] == "sent"
    replay = lineage.json("erasure", "bounces", str(maildir))
    assert replay["tasks"]["already_recorded"] == 2 and replay["tasks"]["bounced"] == 0
    assert tasks(lineage, rid)["gifts"]["status"] == "notified"
    table = lineage.ok("erasure", "bounces", str(maildir)).stdout
    assert "read 4 messages: 0 tasks bounced" in table and "2 already recorded" in table


def test_mbox_stdin_answered_success_and_damaged_reports(
    lineage: Lineage, smtp: tuple[int, Any], tmp_path: Path
) -> None:
    rid, gifts, partner = sent(lineage, smtp)
    damaged = dsn.postfix(gifts)
    damaged.set_payload(damaged.get_payload()[:1])  # the delivery-status part is gone
    success = dsn.exim(gifts)
    success.get_payload()[1].get_payload()[1].replace_header("Action", "delivered")
    success.get_payload()[1].get_payload()[1].replace_header("Status", "2.0.0")
    anonymous = dsn.exim(gifts)
    anonymous.set_payload(anonymous.get_payload()[:2])  # nothing names the message
    path = tmp_path / "bounces.mbox"
    box = mailbox.mbox(path)
    for msg in (damaged, success, dsn.exim(gifts), anonymous):
        box.add(msg)
    box.close()
    done = lineage("erasure", "bounces", str(path), "--format", "json")
    assert done.exit_code == 0, done.output
    assert f"warning: {path}:1: a delivery report without a delivery-status part" in done.stderr
    summary = json.loads(done.stdout)
    assert summary["messages"]["malformed"] == 1 and summary["messages"]["delivered"] == 1
    assert summary["messages"]["unmatched"] == 1 and summary["messages"]["read"] == 4
    assert summary["tasks"]["bounced"] == 1, "the rest go on"
    g = tasks(lineage, rid)["gifts"]
    assert g["status"] == "failed" and "bounced 5.0.0" in g["note"]

    # A holder that already answered: its bounce (from a second address, say) changes nothing.
    lineage.ok("erasure", "confirm", rid, "--holder", "partner", "--evidence", "letter")
    text = dsn.postfix(partner).as_string()
    piped = json.loads(lineage.ok("erasure", "bounces", "-", "--format", "json", input=text).stdout)
    assert piped["tasks"]["already_answered"] == 1 and piped["tasks"]["bounced"] == 0
    assert tasks(lineage, rid)["partner"]["status"] == "confirmed"


def test_bad_sources_are_one_line_exit_2(lineage: Lineage, tmp_path: Path) -> None:
    (tmp_path / "plain-dir").mkdir()
    for source, problem in (
        (tmp_path / "missing", "No such file or directory"),
        (tmp_path / "plain-dir", "not a Maildir"),
    ):
        done = lineage("erasure", "bounces", str(source))
        assert done.exit_code == 2 and problem in done.stderr and str(source) in done.stderr
        assert done.stderr.count("\n") == 1


def test_http_route_for_a_mail_server_pipe(lineage: Lineage, smtp: tuple[int, Any]) -> None:
    rid, gifts, partner = sent(lineage, smtp)
    server = Server(lineage.home)
    for scope in ("read", "rights"):
        server.token(scope)
    server.start()
    url = f"{server.url}/v1/erasure/bounces"
    body = dsn.postfix(gifts).as_bytes()

    def post(data: bytes, scope: str = "rights", kind: str = "message/rfc822") -> httpx.Response:
        headers = {"Authorization": f"Bearer {server.tokens[scope]}", "Content-Type": kind}
        for _ in range(40):  # busy (503, Retry-After): a mail server defers and tries again
            answer = httpx.post(url, content=data, headers=headers, timeout=20)
            if answer.status_code != 503:
                return answer
            time.sleep(float(answer.headers.get("retry-after", "1")) / 2)
        return answer

    try:
        assert post(body, "read").status_code == 403
        assert post(body, kind="text/plain").status_code == 415
        first = post(body)
        assert first.status_code == 200, first.text
        assert first.json()["tasks"]["bounced"] == 1
        assert post(body).json()["tasks"]["already_recorded"] == 1, "replayed: recorded once"
        delayed = post(dsn.postfix(partner, delayed=True).as_bytes()).json()
        assert delayed["tasks"]["delayed"] == 1
        assert post(dsn.plain().as_bytes()).json()["messages"]["not_delivery_reports"] == 1
        broken = dsn.postfix(partner)
        broken.set_payload(broken.get_payload()[:1])
        bad = post(broken.as_bytes())
        assert bad.status_code == 422 and "delivery-status part" in bad.json()["error"]
        assert post(b"  ").status_code == 422
    finally:
        server.stop()
    state = tasks(lineage, rid)
    assert state["gifts"]["step"] == "bounced" and state["partner"]["step"] == "delayed"
    # The command and the route are one implementation: what one recorded, the other knows.
    cli = lineage.ok("erasure", "bounces", "-", "--format", "json", input=body.decode())
    assert json.loads(cli.stdout)["tasks"]["already_recorded"] == 1


# -- the parser ---------------------------------------------------------------------------
def test_parser_reads_both_mtas_and_the_fallbacks() -> None:
    orig = dsn.original(GIFTS, "<abc.1@webshop.example>")
    for build, kind, status in (
        (lambda: dsn.postfix(orig), FAILED, "5.1.1"),
        (lambda: dsn.postfix(orig, delayed=True), DELAYED, "4.4.1"),
        (lambda: dsn.exim(orig), FAILED, "5.0.0"),
        (lambda: dsn.exim(orig, delayed=True), DELAYED, "4.0.0"),
    ):
        report = parse(build().as_bytes(), "x")
        assert report is not None and (report.kind, report.status) == (kind, status)
        assert report.original_ids[0] == "<abc.1@webshop.example>"
    bare = dsn.postfix(orig)
    bare.set_payload(bare.get_payload()[:2])  # no returned message: In-Reply-To names it
    bare["In-Reply-To"] = "<abc.1@webshop.example>"
    report = parse(bare.as_bytes(), "x")
    assert report is not None and report.original_ids == ("<abc.1@webshop.example>",)
    assert parse(dsn.plain().as_bytes(), "x") is None
    with pytest.raises(InputError, match="not an RFC 3463 code"):
        broken = dsn.postfix(orig)
        broken.get_payload()[1].get_payload()[1].replace_header("Status", "bounced")
        parse(broken.as_bytes(), "m1")


@settings(max_examples=200, deadline=None)
@given(cut=st.integers(0, 4000), flip=st.integers(0, 4000), junk=st.binary(max_size=40))
def test_parser_never_fails_but_in_one_line(cut: int, flip: int, junk: bytes) -> None:
    data = bytearray(dsn.exim(dsn.original(GIFTS)).as_bytes())
    if flip < len(data):
        data[flip] ^= 0x5A
    data = data[: max(cut, 1)] + junk
    try:
        report = parse(bytes(data), "m")
    except InputError as exc:
        assert str(exc).startswith("m: ") and "\n" not in str(exc)
    else:
        assert report is None or report.kind in (FAILED, DELAYED, "delivered")
    assert message_from_bytes(bytes(data)) is not None


def test_killed_after_the_server_kept_the_message_sends_it_again_with_its_message_id(
    lineage: Lineage, smtp: tuple[int, Any]
) -> None:
    """The at-least-once window the README describes: the server has the message, the
    sender dies before "sent" is on record; the recipient gets a copy with the same id."""
    import signal
    import subprocess

    port, box = smtp
    setup(lineage, port, "http://127.0.0.1:1")
    box.stall_after_data_for = PARTNER
    proc = subprocess.Popen(
        lineage.command("erase", JANE), env=lineage.process_env(), stdout=subprocess.DEVNULL
    )
    try:
        assert box.stalled.wait(30), "the sender never reached the second recipient"
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    box.stall_after_data_for = None
    box.release.set()
    rid = lineage.json("erasure", "status")["requests"][0]["request_id"]
    assert tasks(lineage, rid)["partner"]["status"] == "sending"
    lineage.ok("erasure", "run", rid, "--id", f"email={JANE}")
    first, second = box.to(PARTNER)
    assert first["Message-ID"] == second["Message-ID"], "the copy says what it is"
    assert first.get_body(("plain",)).get_content() == second.get_body(("plain",)).get_content()
    assert len(box.to(GIFTS)) == 1, "what was on record as sent is not sent again"
    assert tasks(lineage, rid)["partner"]["step"] == "sent"


def test_a_notice_that_bounces_after_its_request_completed_is_recorded_and_warned(
    lineage: Lineage, smtp: tuple[int, Any]
) -> None:
    port, box = smtp
    setup(lineage, port, "http://127.0.0.1:1", holders=("partner",))
    rid = lineage.json("erase", JANE)["request_id"]
    lineage.ok("erasure", "confirm", rid, "--holder", "webshop-db", "--evidence", "deleted")
    assert lineage.json("erasure", "status", rid)["requests"][0]["status"] == "completed"
    (partner,) = box.to(PARTNER)
    text = dsn.exim(partner).as_string()
    done = lineage("erasure", "bounces", "-", input=text)
    assert done.exit_code == 0, done.output
    assert "was completed before partner's message bounced (5.0.0)" in done.stderr
    assert tasks(lineage, rid)["partner"]["status"] == "failed", "the evidence shows it"
