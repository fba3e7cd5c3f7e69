"""The scrubber: free text from outside passes here before it reaches the log, the home or
the screen.

Events name categories, never values, but some fields are text written by others: a
holder's error body becomes an erasure task's reason ("409: customer jane@example.com has
open orders"), a consent form's channel becomes evidence, a decoder's complaint becomes a
dead letter's reason. Whatever shape of identifier such text carries is replaced:

- the subject's own identifiers known at that point (the raw values an erasure was run
  with), e-mail addresses and phone numbers become their keyed reference ``[ref:<16 hex>]``
  (the start of the subject reference, as ``who-has`` shows it), or ``[redacted]`` when no
  key is at hand;
- card-like numbers (13-19 digits passing the Luhn check), IBANs (mod-97 check),
  national-id-like numbers (CPR ``DDMMYY-NNNN``, SSN ``NNN-NN-NNNN``, any other run of 9 or
  more digits), and hex digests (32, 40 or 64 hex digits: an unkeyed MD5 or SHA of an
  e-mail, such as Mailchimp's member id) become ``[redacted]``.

Timestamps, UUIDs and earlier replacements are left as they are, so scrubbing twice changes
nothing. Text is bounded: at most ``limit`` characters (default 300: one quoted answer)
survive, then ``…``; a stored field, which may combine several, at most 1000.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING

from lineage.edge.identity import Pseudonymizer
from lineage.errors import IdentifierError

if TYPE_CHECKING:
    from lineage.events.model import Event

LIMIT = 300
FIELD_LIMIT = 1000
REDACTED = "[redacted]"

# Left alone: earlier replacements, UUIDs (request ids), ISO dates and times.
_KEEP = re.compile(
    r"\[(?:ref:[0-9a-f]+|redacted)\]"
    r"|\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b"
    r"|\b\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?"
)
_EMAIL = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)*", re.UNICODE)
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b")
_CARD = re.compile(r"(?<![\w+])\d(?:[ -]?\d){12,18}(?!\w)")
_NATIONAL_ID = re.compile(r"(?<![\w+])(?:\d{6}-\d{4}|\d{3}-\d{2}-\d{4})(?![\w-])")
_PHONE = re.compile(r"(?<![\w+])(?:\+|00)?\(?\d[\d ().-]{5,}\d(?![\w-])")
_DIGITS = re.compile(r"\d{9,}")
_HEX = re.compile(r"(?<![0-9A-Za-z])(?:[0-9a-fA-F]{64}|[0-9a-fA-F]{40}|[0-9a-fA-F]{32})(?![\w])")

_SUSPECT = re.compile(r"[@\d\r\n]")
_MEMO = 4096

# Free-text fields of events (everything else is a key, a name from the catalog or a time).
TEXT_FIELDS = frozenset({"reason", "note", "summary", "mechanism_ref"})


def _constant(text: str) -> Callable[[re.Match[str]], str]:
    return lambda _m: text


def _luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        n = int(ch)
        if i % 2:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    return total % 10 == 0


def _iban_valid(text: str) -> bool:
    compact = text.replace(" ", "")
    moved = compact[4:] + compact[:4]
    number = "".join(str(int(c, 36)) for c in moved)
    return int(number) % 97 == 1


class Scrubber:
    """Replaces identifier shapes in free text. ``pseudo`` turns what it finds into keyed
    references (without it: ``[redacted]``); ``known`` are raw identifiers of the subject at
    hand, ``{kind: value}``, replaced wherever they appear (any case)."""

    def __init__(
        self,
        pseudo: Pseudonymizer | None = None,
        known: Mapping[str, str] | None = None,
        *,
        limit: int = LIMIT,
    ) -> None:
        self._pseudo = pseudo
        self.limit = limit
        # Input repeats its texts (a consent form's channel on every event): each once.
        self._memo: dict[tuple[str, int], str] = {}
        self._known: list[tuple[re.Pattern[str], str]] = []
        values = sorted(((v, k) for k, v in (known or {}).items() if v), key=lambda p: -len(p[0]))
        for value, kind in values:
            # Short values (a customer number "42") would eat digits of unrelated text; the
            # digit rules below catch long ones anyway.
            if len(value.strip()) >= 4:
                pattern = re.compile(re.escape(value.strip()), re.I)
                self._known.append((pattern, self._ref(kind, value)))

    def _ref(self, kind: str, value: str) -> str:
        if self._pseudo is None:
            return REDACTED
        try:
            return f"[ref:{self._pseudo.ref(kind, value)[:16]}]"
        except IdentifierError:
            return REDACTED

    def __call__(self, text: str | None) -> str | None:
        return None if text is None else self.text(text)

    def text(self, text: str, limit: int | None = None) -> str:
        limit = limit or self.limit
        if len(text) <= limit and not self._known and not _SUSPECT.search(text):
            return text  # every shape needs a digit or an @ (a digest of letters only: no)
        key = (text, limit)
        done = self._memo.get(key)
        if done is None:
            if len(self._memo) >= _MEMO:
                self._memo.clear()
            done = self._memo[key] = self._scrub(text, limit)
        return done

    def _scrub(self, text: str, limit: int) -> str:
        # Cut before scanning (a 17 MB body must not cost a regex pass), then after.
        text = text[: 4 * limit] if len(text) > 4 * limit else text
        parts = _split(text, _KEEP)
        for pattern, ref in self._known:
            parts = _replace(parts, pattern, _constant(ref))
        parts = _replace(parts, _EMAIL, lambda m: self._ref("email", m.group()))
        parts = _replace(parts, _IBAN, lambda m: REDACTED if _iban_valid(m.group()) else None)
        parts = _replace(
            parts, _CARD, lambda m: REDACTED if _luhn(re.sub(r"\D", "", m.group())) else None
        )
        parts = _replace(parts, _NATIONAL_ID, lambda _m: REDACTED)
        parts = _replace(parts, _PHONE, self._phone)
        parts = _replace(parts, _DIGITS, lambda _m: REDACTED)
        parts = _replace(parts, _HEX, lambda _m: REDACTED)
        out = "".join(text for text, _ in parts)
        out = " ".join(out.split()) if "\n" in out or "\r" in out else out
        return out if len(out) <= limit else out[: limit - 1] + "…"

    def _phone(self, match: re.Match[str]) -> str | None:
        text = match.group()
        digits = re.sub(r"\D", "", text)
        if not 8 <= len(digits) <= 15:
            return None
        return self._ref("phone", text)

    def event(self, event: Event) -> Event:
        """The event with its free-text fields scrubbed (the same object when clean)."""
        names = _TEXT_OF.get(type(event))
        if names is None:
            from lineage.events.model import body_fields

            names = _TEXT_OF[type(event)] = tuple(
                n for n in body_fields(type(event)) if n in TEXT_FIELDS or n == "evidence"
            )
        if not names:
            return event  # most types: nothing to scrub, nothing to import per event
        from lineage.events.model import Evidence

        changes: dict[str, object] = {}
        for name in names:
            value = getattr(event, name)
            if value is None:
                continue
            if isinstance(value, str):
                clean = self.text(value, FIELD_LIMIT)
                if clean != value:
                    changes[name] = clean
            elif isinstance(value, Evidence):
                version, channel = (
                    None if v is None else self.text(v, FIELD_LIMIT)
                    for v in (value.text_version, value.channel)
                )
                if (version, channel) != (value.text_version, value.channel):
                    changes[name] = Evidence(text_version=version, channel=channel)
        return dataclasses.replace(event, **changes) if changes else event  # type: ignore[arg-type]

    def events(self, events: Iterable[Event]) -> Iterator[Event]:
        for event in events:
            yield self.event(event)


def scrub(text: str, *, limit: int = LIMIT) -> str:
    """Scrub text where no key is at hand (warnings, connector errors): ``[redacted]``."""
    return _KEYLESS.text(text, limit)


_KEYLESS = Scrubber()
# Per event type, its free-text fields (most types have none: nothing to do per event).
_TEXT_OF: dict[type, tuple[str, ...]] = {}

_Part = tuple[str, bool]  # (text, settled: a replacement or protected text)


def _split(text: str, keep: re.Pattern[str]) -> list[_Part]:
    parts: list[_Part] = []
    at = 0
    for m in keep.finditer(text):
        if m.start() > at:
            parts.append((text[at : m.start()], False))
        parts.append((m.group(), True))
        at = m.end()
    if at < len(text):
        parts.append((text[at:], False))
    return parts


def _replace(
    parts: list[_Part], pattern: re.Pattern[str], repl: Callable[[re.Match[str]], str | None]
) -> list[_Part]:
    """Apply ``repl`` to matches in unsettled text; a None answer keeps the match as text."""
    out: list[_Part] = []
    for text, settled in parts:
        if settled:
            out.append((text, settled))
            continue
        at = 0
        for m in pattern.finditer(text):
            new = repl(m)
            if new is None:
                continue
            if m.start() > at:
                out.append((text[at : m.start()], False))
            out.append((new, True))
            at = m.end()
        if at < len(text):
            out.append((text[at:], False))
    return out
