"""Delivery status notifications as real MTAs write them (Postfix's bounce and delay
notices, Exim's), built with the stdlib's email package, and a real SMTP server (aiosmtpd)
that delivers what it accepts into a Maildir, as the sender address's mailbox would."""

from __future__ import annotations

import smtplib
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import EmailMessage, Message
from email.mime.message import MIMEMessage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import formatdate, make_msgid
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox

SENDER = "privacy@webshop.example"


def _fields(pairs: list[tuple[str, str]]) -> Message:
    block = Message()
    for name, value in pairs:
        block[name] = value
    return block


def _report(
    *,
    mta: str,
    sender_name: str,
    subject: str,
    text: str,
    per_message: list[tuple[str, str]],
    per_recipient: list[tuple[str, str]],
    returned: Message | None,
    headers_only: bool,
    queue_id: str,
) -> MIMEMultipart:
    outer = MIMEMultipart("report", report_type="delivery-status")
    outer["From"] = f"{sender_name} <MAILER-DAEMON@{mta}>"
    outer["To"] = SENDER
    outer["Subject"] = subject
    outer["Date"] = formatdate(usegmt=True)
    outer["Message-ID"] = make_msgid(queue_id, domain=mta)
    outer["Auto-Submitted"] = "auto-replied"
    notification = MIMEText(text, "plain", "us-ascii")
    notification["Content-Description"] = "Notification"
    outer.attach(notification)
    status = Message()
    status.set_type("message/delivery-status")
    status.set_payload([_fields(per_message), _fields(per_recipient)])
    status["Content-Description"] = "Delivery report"
    outer.attach(status)
    if returned is not None:
        if headers_only:
            head = "".join(f"{k}: {v}\n" for k, v in returned.items())
            part = MIMEText(head, "rfc822-headers", "us-ascii")
            part["Content-Description"] = "Undelivered Message Headers"
        else:
            part = MIMEMessage(returned)
            part["Content-Description"] = "Undelivered Message"
        outer.attach(part)
    return outer


def postfix(
    original: Message,
    *,
    delayed: bool = False,
    status: str = "5.1.1",
    diagnostic: str | None = None,
    mta: str = "mx.gifts.example",
) -> MIMEMultipart:
    """Postfix's bounce (the whole message returned) or delay notice (headers only)."""
    rcpt = str(original["To"])
    said = diagnostic or (
        f"smtp; 550 {status} <{rcpt}>: Recipient address rejected: User unknown in "
        "virtual mailbox table"
    )
    if delayed:
        status = "4.4.1"
        said = (
            f"X-Postfix; connect to mail.{rcpt.split('@')[1]}[192.0.2.25]:25: Connection timed out"
        )
    per_recipient = [
        ("Final-Recipient", f"rfc822; {rcpt}"),
        ("Original-Recipient", f"rfc822;{rcpt}"),
        ("Action", "delayed" if delayed else "failed"),
        ("Status", status),
        ("Remote-MTA", f"dns; mail.{rcpt.split('@')[1]}"),
        ("Diagnostic-Code", said),
    ]
    if delayed:
        per_recipient.append(("Will-Retry-Until", formatdate(usegmt=True)))
    return _report(
        mta=mta,
        sender_name="Mail Delivery System",
        subject="Delayed Mail (still being retried)" if delayed
        else "Undelivered Mail Returned to Sender",
        text=f"This is the mail system at host {mta}.\n\nI'm sorry to have to inform you "
        f"that your message could not\nbe delivered to one or more recipients.\n\n"
        f"<{rcpt}>: {said}\n",
        per_message=[
            ("Reporting-MTA", f"dns; {mta}"),
            ("X-Postfix-Queue-ID", "4Xk2Lq0Z1Bz9"),
            ("X-Postfix-Sender", f"rfc822; {SENDER}"),
            ("Arrival-Date", formatdate(usegmt=True)),
        ],
        per_recipient=per_recipient,
        returned=original,
        headers_only=delayed,
        queue_id="4Xk2Lq0Z1Bz9",
    )  # fmt: skip


def exim(
    original: Message, *, delayed: bool = False, mta: str = "mx.partner.example"
) -> MIMEMultipart:
    """Exim's "Mail delivery failed" (message returned) or delay warning (headers)."""
    rcpt = str(original["To"])
    said = f"smtp; 550 5.1.1 <{rcpt}>: mailbox unavailable"
    per_recipient = [
        ("Action", "delayed" if delayed else "failed"),
        ("Final-Recipient", f"rfc822;{rcpt}"),
        ("Status", "4.0.0" if delayed else "5.0.0"),
        ("Remote-MTA", f"dns; {mta}"),
    ]
    if delayed:
        per_recipient.append(("Will-Retry-Until", formatdate(usegmt=True)))
    else:
        per_recipient.append(("Diagnostic-Code", said))
    return _report(
        mta=mta,
        sender_name="Mail Delivery System",
        subject="Warning: message 1tQx2b-000Abc-3F delayed 24 hours" if delayed
        else "Mail delivery failed: returning message to sender",
        text="This message was created automatically by mail delivery software.\n\n"
        "A message that you sent could not be delivered to one or more of its\n"
        f"recipients. This is a permanent error. The following address(es) failed:\n\n"
        f"  {rcpt}\n    {said}\n",
        per_message=[("Reporting-MTA", f"dns; {mta}")],
        per_recipient=per_recipient,
        returned=original,
        headers_only=delayed,
        queue_id="1tQx2b-000Abc-3F",
    )  # fmt: skip


def plain(subject: str = "Out of office") -> EmailMessage:
    """An auto-reply: mail to the sender address that is not a delivery report."""
    msg = EmailMessage()
    msg["From"] = "dpo@partner.example"
    msg["To"] = SENDER
    msg["Subject"] = subject
    msg["Message-ID"] = make_msgid(domain="partner.example")
    msg.set_content("I am away until Monday.")
    return msg


def original(to: str, message_id: str | None = None) -> EmailMessage:
    """A message lineage never sent (a report about it matches no task)."""
    msg = EmailMessage()
    msg["From"] = SENDER
    msg["To"] = to
    msg["Subject"] = "Something else"
    msg["Message-ID"] = message_id or make_msgid(domain="webshop.example")
    msg.set_content("hello")
    return msg


@contextmanager
def maildir_server(path: Path, port: int) -> Iterator[None]:
    """The sender address's mail server: accepts on 127.0.0.1 and files into a Maildir."""
    controller = Controller(Mailbox(path), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield
    finally:
        controller.stop()


def deliver(port: int, *messages: Message) -> None:
    """As a reporting MTA sends them: null reverse-path (RFC 3464 §2), to the sender."""
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
        for msg in messages:
            smtp.send_message(msg, from_addr="", to_addrs=[SENDER])
