"""The e-mail channel's transport: compose a message from the templates, send it over SMTP.

One message goes to one recipient and carries one or more requests (a batch: every request
for that recipient in one run), each with its own signed answer link. The text comes from
``templates/email/request.txt`` in the recipient's language (``lineage.i18n``). Sending uses
the stdlib's ``smtplib``: STARTTLS (or implicit TLS) before any credential is sent; login
without TLS is refused. SMTP errors map to transient (4xx, connection trouble: retried) or
terminal (5xx: the address bounced, the sender was refused) with the server's words, which
the caller scrubs before they are recorded.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formataddr, formatdate
from typing import TYPE_CHECKING, Any

from lineage.errors import ConfigError

if TYPE_CHECKING:
    from lineage.config import Settings


@dataclass(frozen=True)
class Item:
    """One request in a message: what the recipient is asked, and where to answer."""

    request_id: str
    kind: str
    action: str
    basis: str
    categories: tuple[str, ...]
    deadline: str
    link: str
    # Raw identifiers as this recipient knows the subject: only ever in the message itself.
    identities: Mapping[str, str] = field(default_factory=dict, repr=False)
    # A consent withdrawal: the data use to stop processing for.
    purpose: str | None = None


class SendError(Exception):
    def __init__(self, reason: str, transient: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.transient = transient


def compose(
    *,
    sender: str,
    controller: Mapping[str, Any],
    to: str,
    holder_name: str,
    lang: str,
    items: Sequence[Item],
    message_id: str,
    reminder: bool = False,
) -> EmailMessage:
    from lineage.i18n import gettext, render

    _ = gettext(lang)
    msg = EmailMessage()
    name = controller.get("name") or "lineage"
    msg["From"] = formataddr((str(name), sender))
    msg["To"] = to
    msg["Date"] = formatdate(usegmt=True)
    msg["Message-ID"] = message_id
    kinds = sorted({i.kind for i in items})
    subject = _("Request to act on personal data: %(kinds)s") % {
        "kinds": ", ".join(_(k) for k in kinds)
    }
    if reminder:
        subject = _("Reminder") + ": " + subject
    msg["Subject"] = subject
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(
        render(
            "email/request.txt",
            lang,
            controller=controller,
            holder=holder_name,
            items=items,
            reminder=reminder,
        )
    )
    return msg


class Smtp:
    """One SMTP session for a run's messages (connected at the first message)."""

    def __init__(self, settings: Settings) -> None:
        if not settings.smtp_host:
            raise ConfigError("no SMTP server: set smtp_host (LINEAGE_SMTP_HOST)")
        if not settings.smtp_from:
            raise ConfigError("no sender address: set smtp_from (LINEAGE_SMTP_FROM)")
        if settings.smtp_user and settings.smtp_tls == "none":
            raise ConfigError("SMTP credentials are never sent without TLS: set smtp_tls")
        self.settings = settings
        self._smtp: smtplib.SMTP | None = None

    @property
    def sender(self) -> str:
        return self.settings.smtp_from

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        context = ssl.create_default_context()
        smtp: smtplib.SMTP
        if s.smtp_tls == "tls":
            smtp = smtplib.SMTP_SSL(
                s.smtp_host, s.smtp_port, timeout=s.smtp_timeout, context=context
            )
        else:
            smtp = smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=s.smtp_timeout)
        try:
            smtp.ehlo()
            if s.smtp_tls == "starttls":
                smtp.starttls(context=context)
                smtp.ehlo()
            if s.smtp_user:
                smtp.login(s.smtp_user, s.smtp_password)
        except BaseException:
            smtp.close()
            raise
        return smtp

    def send(self, msg: EmailMessage) -> None:
        """Hand the message to the server; ``SendError`` when it is not accepted."""
        try:
            if self._smtp is None:
                self._smtp = self._connect()
            refused = self._smtp.send_message(msg)
        except smtplib.SMTPRecipientsRefused as exc:
            self._drop()
            code, text = next(iter(exc.recipients.values()))
            raise SendError(_said("recipient refused", code, text), code < 500) from None
        except smtplib.SMTPAuthenticationError as exc:
            self._drop()
            raise SendError(_said("login refused", exc.smtp_code, exc.smtp_error), False) from None
        except smtplib.SMTPResponseException as exc:
            self._drop()
            raise SendError(
                _said("not accepted", exc.smtp_code, exc.smtp_error), exc.smtp_code < 500
            ) from None
        except ssl.SSLError as exc:
            self._drop()
            raise SendError(f"TLS with the SMTP server failed: {exc.reason}", False) from None
        except (smtplib.SMTPException, OSError) as exc:
            self._drop()
            where = f"{self.settings.smtp_host}:{self.settings.smtp_port}"
            raise SendError(f"SMTP server {where} unreachable: {exc}", True) from None
        if refused:  # some recipients refused: we send to one, so this is that one
            code, text = next(iter(refused.values()))
            raise SendError(_said("recipient refused", code, text), code < 500)

    def _drop(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.close()
            finally:
                self._smtp = None

    def close(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (smtplib.SMTPException, OSError):
                pass
            finally:
                self._smtp = None


def _said(what: str, code: int, text: bytes | str) -> str:
    words = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
    return f"{what}: {code} {' '.join(words.split())}"
