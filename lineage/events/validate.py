"""Semantic checks of an event record: vocabularies, taxonomy keys, countries, durations.

One path for every producer: the edge checks what users type, the projector checks what it
decodes (bytes from another writer can be well-formed Avro and still mean nothing).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from functools import cache
from typing import Any

from lineage.errors import InputError
from lineage.events import kinds, vocab
from lineage.events.model import Event, IdentityLinked, body_fields
from lineage.events.taxonomy import Taxonomy, default_taxonomy, suggest

_REF = re.compile(r"^[0-9a-f]{64}$")
SUBJECT_REF_PATTERN = _REF.pattern
_COUNTRY = re.compile(r"^[A-Z]{2}$")


def _one_of(name: str, allowed: tuple[str, ...]) -> Callable[[Any, Taxonomy], None]:
    def check(value: Any, _tax: Taxonomy) -> None:
        if value not in allowed:
            hint = suggest(str(value), allowed)
            extra = f" (did you mean {hint[0]!r}?)" if hint else ""
            raise InputError(
                f"unknown {name} {value!r}{extra}; expected one of {', '.join(allowed)}"
            )

    return check


def _categories(value: Any, tax: Taxonomy) -> None:
    for key in value:
        tax.check_category(key)


def _categories_nonempty(value: Any, tax: Taxonomy) -> None:
    if not value:
        raise InputError("categories must name at least one data category")
    _categories(value, tax)


def _use(value: Any, tax: Taxonomy) -> None:
    tax.check_use(value)


def _subject(value: Any, tax: Taxonomy) -> None:
    tax.check_subject(value)


@cache
def _countries() -> frozenset[str]:
    import pycountry

    return frozenset(c.alpha_2 for c in pycountry.countries)


def check_country(value: Any, _tax: Taxonomy | None = None) -> None:
    if not isinstance(value, str) or not _COUNTRY.match(value) or value not in _countries():
        raise InputError(f"{value!r} is not an ISO 3166-1 alpha-2 country code (e.g. DK, US)")


def check_duration(value: Any, _tax: Taxonomy | None = None) -> None:
    from lineage.timeutil import parse_duration

    parse_duration(value)


def _ref(value: Any, _tax: Taxonomy) -> None:
    if not isinstance(value, str) or not _REF.match(value):
        raise InputError(f"{value!r} is not a subject reference (64 hex digits)")


def _nonblank(value: Any, _tax: Taxonomy) -> None:
    if not isinstance(value, str) or not value.strip():
        raise InputError("must not be empty")


_CHECKS: dict[str, Callable[[Any, Taxonomy], None]] = {
    "categories": _categories,
    "scope": _categories,
    "purpose": _use,
    "data_subject": _subject,
    "legal_basis": _one_of("legal basis", vocab.LEGAL_BASES),
    "recipient_role": _one_of("recipient role", vocab.RECIPIENT_ROLES),
    "origin": _one_of("origin", vocab.ORIGINS),
    "mechanism": _one_of("transfer mechanism", vocab.MECHANISMS),
    "status": _one_of("erasure task status", vocab.ERASURE_TASK_STATUSES),
    "runs_from": _one_of("retention start", vocab.RETENTION_RUNS_FROM),
    "action": _one_of("erasure task action", vocab.ERASURE_ACTIONS),
    "kind": _one_of("request kind", vocab.REQUEST_KINDS),
    "recipient_country": check_country,
    "destination_country": check_country,
    "retention": check_duration,
    "duration": check_duration,
    "linked_ref": _ref,
    "system": _nonblank,
    "from_holder": _nonblank,
    "recipient": _nonblank,
    "holder": _nonblank,
    "request_id": _nonblank,
}

# Events whose category list may be empty (meaning "all").
_MAY_BE_EMPTY = {kinds.ERASED, kinds.RETENTION_DECLARED, kinds.TASK_UPDATED}
# For columnar checks (``RecordValidator.passes``): the fields checked value by value, the
# list fields among them (checked item by item), and which must not be empty.
CHECKED_FIELDS = frozenset(_CHECKS) - {"linked_ref"}
LIST_FIELDS = frozenset({"categories", "scope"})


def may_be_empty(event_type: str, name: str) -> bool:
    return name != "categories" or event_type in _MAY_BE_EMPTY


def _checked_fields(cls: type[Event]) -> tuple[str, ...]:
    names = _CHECKED_FIELDS.get(cls)
    if names is None:
        names = _CHECKED_FIELDS[cls] = tuple(
            n for n in body_fields(cls) if n in _CHECKS and n != "linked_ref"
        )
    return names


_CHECKED_FIELDS: dict[type[Event], tuple[str, ...]] = {}


def check_record(record: Mapping[str, Any], taxonomy: Taxonomy | None = None) -> None:
    """Raise ``InputError`` naming the field when the record is not a meaningful event."""
    RecordValidator(taxonomy or default_taxonomy()).check(record)


class RecordValidator:
    """``check_record`` for a stream. The checked fields of an event (categories, purpose,
    basis, holders, countries) repeat endlessly across subjects, so each distinct combination
    is checked once and remembered."""

    def __init__(self, taxonomy: Taxonomy) -> None:
        self.taxonomy = taxonomy
        self._ok: set[tuple[Any, ...]] = set()
        self._shapes: dict[str, tuple[frozenset[str], tuple[str, ...]]] = {}
        self._last_ref: object = None
        self._ok_values: set[tuple[str, Any]] = set()

    def check(self, record: Mapping[str, Any]) -> None:
        env = record["envelope"]
        ref = env["subject_ref"]
        if not isinstance(ref, str) or not _REF.match(ref):
            raise InputError(f"{ref!r} is not a subject reference (64 hex digits)", "subject_ref")
        occurred = env["occurred_at"]
        if not isinstance(occurred, int) and (
            not isinstance(occurred, datetime) or occurred.tzinfo is None
        ):
            raise InputError("occurred_at must be a time with a time zone", "occurred_at")
        et = env["event_type"]
        # The checked field names of this record's shape, found once per event type (this
        # runs for every projected event; scanning every field each time cost as much as the
        # Avro decoding).
        shape = self._shapes.get(et)
        if shape is None or record.keys() != shape[0]:
            names = tuple(n for n in record if n in _CHECKS and n != "linked_ref")
            shape = self._shapes[et] = (frozenset(record), names)
        key = (
            et,
            *[
                v if v.__class__ is not list else tuple(v)
                for v in map(record.__getitem__, shape[1])
            ],
        )
        if key in self._ok:
            if "linked_ref" in record:
                _ref(record["linked_ref"], self.taxonomy)
            return
        self._check_fields(record)
        self._ok.add(key)

    def passes(self, name: str, values: Iterable[Any]) -> bool:
        """Whether every value (a list field's: every item) passes ``name``'s check: the
        checks are per field, so the distinct values of a column stand for all its rows.
        A False sends the rows back to ``check``, which names the field."""
        check = _CHECKS[name]
        items = name in LIST_FIELDS
        ok = self._ok_values
        for value in values:
            if value is None or (name, value) in ok:
                continue
            try:
                check([value] if items else value, self.taxonomy)
            except InputError:
                return False
            ok.add((name, value))
        return True

    def check_event(self, event: Event) -> None:
        """``check(event.to_record())``, building the record only for a combination of
        checked fields not seen before (a sync checks hundreds of thousands of events)."""
        ref = event.subject_ref
        if ref is not self._last_ref:  # a record's events share one reference
            if not isinstance(ref, str) or not _REF.match(ref):
                raise InputError(
                    f"{ref!r} is not a subject reference (64 hex digits)", "subject_ref"
                )
            self._last_ref = ref
        occurred = event.occurred_at
        if not isinstance(occurred, datetime) or occurred.tzinfo is None:
            raise InputError("occurred_at must be a time with a time zone", "occurred_at")
        names = _checked_fields(type(event))
        # The same key ``check`` builds from the record (lists there are tuples here).
        key = (event.event_type, *(getattr(event, n) for n in names))
        if key in self._ok:
            if isinstance(event, IdentityLinked):
                _ref(event.linked_ref, self.taxonomy)
            return
        self.check(event.to_record())

    def _check_fields(self, record: Mapping[str, Any]) -> None:
        et = record["envelope"]["event_type"]
        for name, value in record.items():
            if value is None or name == "envelope":
                continue
            check = _CHECKS.get(name)
            if check is None:
                continue
            if name == "categories" and et not in _MAY_BE_EMPTY:
                check = _categories_nonempty
            try:
                check(value, self.taxonomy)
            except InputError as exc:
                raise InputError(exc.problem, name) from None
