"""Identifier normalisation and pseudonymisation.

subject reference = hex(HMAC-SHA-256(key, "kind:normalised value")). The key is secret, so a
reference cannot be reversed by hashing guessed e-mail addresses without it.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping

from lineage.errors import IdentifierError

_KIND = re.compile(r"^[a-z][a-z0-9_]*$")
_REF = re.compile(r"^[0-9a-f]{64}$")
_PHONE_JUNK = re.compile(r"[\s().\-/]")


def is_subject_ref(text: str) -> bool:
    return bool(_REF.match(text))


def normalise(kind: str, value: str) -> tuple[str, str]:
    """Return (kind, value) in the form that is hashed."""
    kind = kind.strip().lower()
    if not _KIND.match(kind):
        raise IdentifierError(f"identifier kind {kind!r} must be lower-case letters, digits, _")
    if not isinstance(value, str) or not value.strip():
        raise IdentifierError(f"{kind} identifier is empty")
    if kind == "email":
        email = value.strip().lower()
        local, _, domain = email.partition("@")
        if not local or not domain or " " in email:
            raise IdentifierError(f"{value!r} is not an e-mail address")
        return kind, email
    if kind == "phone":
        raw = value.strip()
        digits = _PHONE_JUNK.sub("", raw)
        if digits.startswith("+"):
            digits = digits[1:]
        elif digits.startswith("00"):
            digits = digits[2:]
        if not digits.isdigit():
            raise IdentifierError(f"{value!r} is not a phone number")
        return kind, "+" + digits
    return kind, value


def parse_identifier(text: str) -> tuple[str, str]:
    """Interpret a bare command-line identifier: an e-mail (has @) or a phone (+digits)."""
    text = text.strip()
    if "@" in text:
        return "email", text
    if text.startswith("+") and text[1:].replace(" ", "").isdigit():
        return "phone", text
    if "=" in text:
        kind, _, value = text.partition("=")
        return kind, value
    raise IdentifierError(
        f"cannot tell what kind of identifier {text!r} is: use --id KIND=VALUE "
        "(e.g. --id customer_number=1042) or a subject reference"
    )


class Pseudonymizer:
    """Turns identifiers into subject references with a secret key."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise IdentifierError("the pseudonym key must be at least 16 bytes")
        self._key = key

    def __repr__(self) -> str:
        return "Pseudonymizer(key=<hidden>)"

    def ref(self, kind: str, value: str) -> str:
        kind, value = normalise(kind, value)
        message = f"{kind}:{value}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def refs(self, subject: Mapping[str, object]) -> list[str]:
        """References for every identifier of one subject object, in its order."""
        out: list[str] = []
        for kind, value in subject.items():
            if not isinstance(value, str | int) or isinstance(value, bool):
                raise IdentifierError(f"identifier {kind!r} must be a string")
            out.append(self.ref(kind, str(value)))
        if not out:
            raise IdentifierError("subject has no identifier")
        return out
