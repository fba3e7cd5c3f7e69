"""Signed links: how a recipient answers without a login.

A link names one task (request, holder, action) and the ``link_id`` its message carried,
signed with HMAC-SHA-256 under a key derived from the pseudonym key (so ``lineage serve``
and the sending command agree without another secret to distribute). The token is
``base64url(payload) "." base64url(mac)``; whoever changes a byte of it is refused. A link
is single-use: once the task has its holder's answer it accepts no other (the log is the
memory of that, so a restart forgets nothing), and a task sent again gets a new link.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass

from lineage.errors import InputError

# The purposes a token may serve: the answer page of an e-mail, a webhook's callback URL.
PURPOSES = ("answer", "callback")
MAX_TOKEN = 2048


@dataclass(frozen=True)
class Link:
    request_id: str
    holder: str
    action: str
    link_id: str
    purpose: str = "answer"


class BadLink(InputError):
    """A token that was not signed by us, or is malformed (nothing is recorded)."""

    def __init__(self) -> None:
        super().__init__("this link is not valid (altered or not issued by this company)")


def link_key(pseudonym_key: bytes) -> bytes:
    """A key of its own for links: a leaked link key must not reveal the pseudonym key."""
    return hmac.new(pseudonym_key, b"lineage/channels/links/v1", hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign(key: bytes, link: Link) -> str:
    payload = json.dumps(
        [link.purpose, link.request_id, link.holder, link.action, link.link_id],
        separators=(",", ":"),
        ensure_ascii=False,
    ).encode()
    mac = hmac.new(key, payload, hashlib.sha256).digest()
    return f"{_b64(payload)}.{_b64(mac)}"


def verify(key: bytes, token: str, purpose: str) -> Link:
    """The link a token names, or ``BadLink``; compared in constant time."""
    if len(token) > MAX_TOKEN or token.count(".") != 1:
        raise BadLink()
    head, _, tail = token.partition(".")
    try:
        payload, mac = _unb64(head), _unb64(tail)
    except ValueError:
        raise BadLink() from None
    if not hmac.compare_digest(mac, hmac.new(key, payload, hashlib.sha256).digest()):
        raise BadLink()
    try:
        kind, request_id, holder, action, link_id = json.loads(payload)
    except ValueError:
        raise BadLink() from None
    if kind != purpose:
        raise BadLink()
    return Link(request_id, holder, action, link_id, kind)
