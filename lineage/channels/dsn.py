"""Delivery status notifications (RFC 3464) that arrive after a message was accepted.

An SMTP server's "250 accepted" is not delivery: the recipient's server may report hours
later, by mail to the sender, that the message could not be delivered (``Action: failed``,
a 5.x.x ``Status``) or is still being retried (``Action: delayed``, 4.x.x). Such a report
is a ``multipart/report; report-type=delivery-status`` message (``global-delivery-status``
for RFC 6533) with a ``message/delivery-status`` part and the returned message
(``message/rfc822``) or its header (``text/rfc822-headers``), whose Message-ID names what
bounced. Parsed with the stdlib's ``email``; sources read with ``mailbox`` (Maildir, mbox)
or one message on standard input (a mail server's pipe).
"""

from __future__ import annotations

import email
import email.parser
import email.policy
import mailbox
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import Message
from pathlib import Path

from lineage.errors import InputError

FAILED, DELAYED, DELIVERED = "failed", "delayed", "delivered"
_STATUS = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")
_MSGID = re.compile(r"<[^<>\s]+>")
_STATUS_PARTS = ("message/delivery-status", "message/global-delivery-status")
_RETURNED = ("message/rfc822", "message/global")
_HEADERS = ("text/rfc822-headers", "message/global-headers")


@dataclass(frozen=True)
class Report:
    """What one report says about the message it returns."""

    kind: str  # failed (permanent), delayed (still retried), delivered (relayed, expanded)
    status: str  # the RFC 3463 status code, e.g. 5.1.1
    diagnostic: str | None  # the remote server's words (quote identifiers: scrub them)
    original_ids: tuple[str, ...]  # Message-IDs of the returned message, best first
    report_id: str | None


def parse(data: bytes, where: str) -> Report | None:
    """The report in one RFC 5322 message; None when it is not a delivery report, and
    ``InputError`` naming ``where`` when it claims to be one but cannot be read."""
    try:
        msg = email.message_from_bytes(data, policy=email.policy.compat32)
    except Exception as exc:  # the parser is lenient; anything it raises is damage
        raise InputError(f"not a readable message ({exc})", where) from None
    if msg.get_content_type() != "multipart/report":
        return None
    report_type = str(msg.get_param("report-type", "") or "").lower()
    if report_type not in ("delivery-status", "global-delivery-status"):
        return None
    parts = msg.get_payload()
    if not isinstance(parts, list):
        raise InputError("a multipart/report without parts", where)
    blocks: list[Message] | None = None
    returned: list[str] = []
    for part in parts:
        if not isinstance(part, Message):
            continue
        kind = part.get_content_type()
        if kind in _STATUS_PARTS and blocks is None:
            blocks = _blocks(part)
        elif kind in _RETURNED or kind in _HEADERS:
            returned += _ids_of(part, kind)
    if blocks is None:
        raise InputError("a delivery report without a delivery-status part", where)
    # Fallback: MTAs that return no part still answer the message they report on.
    for header in ("In-Reply-To", "References"):
        returned += _MSGID.findall(str(msg.get(header, "")))
    kind, status, diagnostic = _worst(blocks, where)
    mid = _MSGID.findall(str(msg.get("Message-ID", "")))
    return Report(kind, status, diagnostic, tuple(dict.fromkeys(returned)), mid[0] if mid else None)


def _blocks(part: Message) -> list[Message]:
    payload = part.get_payload()
    if isinstance(payload, list) and all(isinstance(p, Message) for p in payload):
        return list(payload)
    # A transfer-encoded or global (UTF-8) status part arrives as text: blocks of fields
    # separated by blank lines.
    raw = part.get_payload(decode=True)
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(payload or "")
    parser = email.parser.HeaderParser(policy=email.policy.compat32)
    chunks = re.split(r"\r?\n[ \t]*\r?\n", text.strip())
    return [parser.parsestr(chunk + "\n") for chunk in chunks if chunk.strip()]


def _ids_of(part: Message, kind: str) -> list[str]:
    if kind in _RETURNED:
        inner = part.get_payload()
        if isinstance(inner, list) and inner and isinstance(inner[0], Message):
            return _MSGID.findall(str(inner[0].get("Message-ID", "")))
    raw = part.get_payload(decode=True)
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(part.get_payload())
    headers = email.parser.HeaderParser(policy=email.policy.compat32).parsestr(text)
    return _MSGID.findall(str(headers.get("Message-ID", "")))


def _worst(blocks: list[Message], where: str) -> tuple[str, str, str | None]:
    """The per-recipient block that matters most: a failure, else a delay, else success.
    (lineage sends each message to one recipient; a report may still list several.)"""
    found: list[tuple[int, str, str, str | None]] = []
    for block in blocks[1:] or blocks:  # the first block is the per-message fields
        action = str(block.get("Action", "")).strip().lower()
        raw = str(block.get("Status", "")).strip()
        if not action and not raw:
            continue
        code = _STATUS.search(raw)
        if raw and code is None:
            raise InputError(f"Status {raw[:40]!r} is not an RFC 3463 code", where)
        status = code.group(0) if code else ""
        if action not in ("failed", "delayed", "delivered", "relayed", "expanded"):
            action = {"5": FAILED, "4": DELAYED, "2": DELIVERED}[status[0]] if status else ""
        if not action:
            continue
        kind = action if action in (FAILED, DELAYED) else DELIVERED
        diag = " ".join(str(block.get("Diagnostic-Code", "")).split())
        diag = re.sub(r"^[\w-]+;\s*", "", diag)  # the diagnostic type: smtp; x-unix; ...
        rank = {FAILED: 0, DELAYED: 1, DELIVERED: 2}[kind]
        status = status or {FAILED: "5.0.0", DELAYED: "4.0.0"}.get(kind, "2.0.0")
        found.append((rank, kind, status, diag or None))
    if not found:
        raise InputError("a delivery report with no recipient's Action or Status", where)
    best = min(found, key=lambda f: f[0])
    return best[1], best[2], best[3]


def messages(source: str) -> Iterator[tuple[str, bytes | None]]:
    """Every message in ``source``: a Maildir directory, an mbox file, a file holding one
    message, or '-' (one message on standard input). ``(name, None)``: a message that could
    not be read (the caller warns and goes on). The source itself is checked at once."""
    if source == "-":
        return iter([("<stdin>", sys.stdin.buffer.read())])
    path = Path(source)
    if path.is_dir():
        if not all((path / d).is_dir() for d in ("cur", "new", "tmp")):
            raise InputError("a directory that is not a Maildir (no cur/, new/, tmp/)", source)
        return _maildir(path, source)
    try:
        with path.open("rb") as fh:
            head = fh.read(5)
    except OSError as exc:
        raise InputError(exc.strerror or "cannot be read", source) from None
    if head != b"From ":
        return iter([(source, path.read_bytes())])
    return _mbox(path, source)


def _maildir(path: Path, source: str) -> Iterator[tuple[str, bytes | None]]:
    box = mailbox.Maildir(path, factory=None, create=False)
    for key in sorted(box.iterkeys()):
        try:
            yield f"{source}:{key}", box.get_bytes(key)
        except (OSError, KeyError):
            yield f"{source}:{key}", None


def _mbox(path: Path, source: str) -> Iterator[tuple[str, bytes | None]]:
    box = mailbox.mbox(path, factory=None, create=False)
    try:
        for n, key in enumerate(box.iterkeys(), 1):
            try:
                yield f"{source}:{n}", box.get_bytes(key)
            except (OSError, KeyError):
                yield f"{source}:{n}", None
    finally:
        box.close()
