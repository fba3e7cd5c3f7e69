"""JSON Lines input: the human form of events, with raw identifiers under ``subject``.

Each line becomes one event plus, when ``subject`` names several identifiers, one
``IdentityLinked`` event per extra identifier. Raw identifiers stop here: the events carry
only subject references.

An absent ``event_id`` is derived from the pseudonymised content (UUIDv5), so re-running the
same file after a crash or by mistake records nothing twice. It is never derived from raw
identifiers: that would publish an unkeyed hash of an e-mail address.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import fields
from datetime import datetime
from typing import Any

from lineage.edge.identity import Pseudonymizer, is_subject_ref
from lineage.errors import InputError, LineageError
from lineage.events.model import (
    EVENT_TYPES,
    Event,
    Evidence,
    IdentityLinked,
    body_fields,
    remember_record,
)
from lineage.events.taxonomy import Taxonomy, default_taxonomy, suggest
from lineage.events.validate import RecordValidator
from lineage.timeutil import now, parse_time

EVENT_NAMESPACE = uuid.UUID("6f1c2b1e-4c55-5a8e-9d1f-0b7a3c2e5d10")
_PENDING_ID = uuid.UUID(int=0)  # replaced by the content-derived id before the event leaves
_ENVELOPE_INPUT = {"event_type", "event_id", "occurred_at", "source", "subject", "subject_ref"}
_TIME_FIELDS = {"received_at", "retain_until", "deadline"}
# The longest event line accepted. Real events are a few hundred bytes; this keeps one line
# well inside every log's record limit (Kafka's default message size is 1 MB).
MAX_LINE = 256 * 1024
_REFS_KEPT = 65_536
_SURROGATE = re.compile(r"\\u[dD][89a-fA-F]")


_FIELD_NAMES: dict[type, frozenset[str]] = {}
_ALLOWED: dict[type, frozenset[str]] = {}


def _field_names(cls: type[Event]) -> frozenset[str]:
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = _FIELD_NAMES[cls] = frozenset(body_fields(cls))
    return names


def _allowed_keys(cls: type[Event]) -> frozenset[str]:
    """The keys an input object of this type may have (found once per type)."""
    keys = _ALLOWED.get(cls)
    if keys is None:
        extra = {"linked"} if cls is IdentityLinked else set()
        keys = _ALLOWED[cls] = _field_names(cls) | _ENVELOPE_INPUT | extra
    return keys


_REQUIRED: dict[type, tuple[str, ...]] = {}
_PLANS: dict[type, tuple[tuple[str, bool], ...]] = {}
# Fields that ``_convert`` does more with than check that they are strings.
_CONVERTED = frozenset({"categories", "scope", "evidence", "attempt"}) | _TIME_FIELDS


def _body_plan(cls: type[Event]) -> tuple[tuple[str, bool], ...]:
    """(name, taken as given when a string) of each body field, found once per type."""
    plan = _PLANS.get(cls)
    if plan is None:
        plan = _PLANS[cls] = tuple((n, n not in _CONVERTED) for n in _field_names(cls))
    return plan


def _required_fields(cls: type[Event]) -> tuple[str, ...]:
    """Body fields without a default (both MISSING), found once per event type."""
    names = _REQUIRED.get(cls)
    if names is None:
        body = _field_names(cls)
        names = _REQUIRED[cls] = tuple(
            f.name for f in fields(cls) if f.name in body and f.default is f.default_factory
        )
    return names


class EventParser:
    """Parses input objects into validated events. One per input, since it remembers which
    identity links it has already emitted."""

    def __init__(
        self,
        pseudonymizer: Pseudonymizer,
        *,
        default_source: str = "emit",
        taxonomy: Taxonomy | None = None,
    ) -> None:
        self._pseudo = pseudonymizer
        self._source = default_source
        self._taxonomy = taxonomy or default_taxonomy()
        # Remembers the field combinations it has checked: input repeats them endlessly.
        self._validator = RecordValidator(self._taxonomy)
        self._linked: set[tuple[str, str]] = set()
        # References of the subjects seen in this input: a subject recurs on many lines, and
        # its identifiers are normalised and hashed once.
        self._refs: dict[tuple[tuple[str, str], ...], list[str]] = {}
        # When an input is parsed in chunks (``track_links``), the identity links derived
        # here: (position among the events parsed, subject_ref, linked_ref, occurred_at), so
        # whoever joins the chunks can drop those an earlier chunk already emitted.
        self.derived: list[tuple[int, str, str, datetime]] | None = None
        self._emitted = 0

    def track_links(self) -> list[tuple[int, str, str, datetime]]:
        """Start a chunk of an input: forget the links emitted so far and record those
        derived from now on (see ``derived``). What it has cached (subjects' references,
        checked field combinations) it keeps: the next chunk may well repeat them."""
        self._linked.clear()
        self._emitted = 0
        self.derived = []
        return self.derived

    def next_input(self) -> None:
        """Parse another whole input (an ingest request's body) with this parser: it emits
        its own identity links again, as a new parser would, and keeps what it has cached
        (subjects' references, checked field combinations)."""
        self._linked.clear()
        self._emitted = 0
        self.derived = None

    def parse_object(
        self, obj: Any, where: str | None = None, *, check_text: bool = True
    ) -> list[Event]:
        """Events of one input object. ``check_text=False`` skips the search for lone
        surrogates when the caller knows there can be none."""
        try:
            if check_text:
                _check_text(obj)
            out = self._parse(obj)
            if self.derived is not None:
                self._emitted += len(out)
            return out
        except LineageError as exc:
            problem = getattr(exc, "problem", exc.message)
            field = getattr(exc, "where", None)
            prefix = f"{field}: " if field else ""
            raise InputError(f"{prefix}{problem}", where) from None

    def _parse(self, obj: Any) -> list[Event]:
        if not isinstance(obj, dict):
            raise InputError("each line must be a JSON object")
        event_type = obj.get("event_type")
        if event_type is None:
            raise InputError("missing event_type")
        cls = EVENT_TYPES.get(event_type) if isinstance(event_type, str) else None
        if cls is None:
            hint = suggest(str(event_type), EVENT_TYPES)
            extra = f" (did you mean {hint[0]!r}?)" if hint else ""
            raise InputError(f"unknown event type {event_type!r}{extra}")
        allowed = _allowed_keys(cls)
        if not obj.keys() <= allowed:
            for key in obj:
                if key not in allowed:
                    hint = suggest(key, allowed)
                    extra = f" (did you mean {hint[0]!r}?)" if hint else ""
                    raise InputError(f"unknown field {key!r} for {event_type}{extra}")

        refs = self._subject_refs(obj)
        occurred_at = parse_time(_required(obj, "occurred_at"))
        source = obj.get("source", self._source)
        if not isinstance(source, str) or not source:
            raise InputError("source must be a non-empty string")

        body: dict[str, Any] = {}
        for name, plain in _body_plan(cls):
            value = obj.get(name)
            if value is None:
                continue
            # Most fields are strings taken as they are: no call for them.
            body[name] = value if plain and value.__class__ is str else _convert(name, value)
        if cls is IdentityLinked:
            if "linked" in obj:
                if not isinstance(obj["linked"], dict):
                    raise InputError("linked must be an object of identifiers")
                body["linked_ref"] = self._pseudo.refs(obj["linked"])[0]
            elif "linked_ref" not in body:
                raise InputError("IdentityLinked needs linked (identifiers) or linked_ref")
        if cls.event_type == "ErasureRequested":
            # Derived, not random: re-recording the same input must not open a second request.
            scope = ",".join(sorted(body.get("scope", ())))
            body.setdefault(
                "request_id",
                str(uuid.uuid5(EVENT_NAMESPACE, f"request:{refs[0]}:{occurred_at}:{scope}")),
            )
            body.setdefault("received_at", occurred_at)
        missing = [name for name in _required_fields(cls) if name not in body]
        if missing:
            raise InputError(f"{event_type} needs {', '.join(missing)}")

        envelope: dict[str, Any] = {
            "subject_ref": refs[0],
            "occurred_at": occurred_at,
            "source": source,
            "recorded_at": now(),
        }
        given_id = obj.get("event_id") is not None
        envelope["event_id"] = _uuid(obj["event_id"]) if given_id else _PENDING_ID
        try:
            event = cls(**envelope, **body)
        except TypeError as exc:
            raise InputError(f"{event_type}: {exc}") from None
        record = event.to_record()
        self._validator.check(record)
        if not given_id:
            # The id derives from the content, so it is known only now. Nobody holds the
            # event yet: setting the field in place spares building it a second time.
            event_id = _content_id(record)
            object.__setattr__(event, "event_id", event_id)
            record["envelope"]["event_id"] = str(event_id)
        # The codec encodes this record rather than building it again (see remember_record).
        remember_record(event, record)
        out = [event]
        for other in refs[1:]:
            pair = (refs[0], other)
            if pair in self._linked or refs[0] == other:
                continue
            self._linked.add(pair)
            if self.derived is not None:
                self.derived.append((self._emitted + len(out), refs[0], other, occurred_at))
            link = IdentityLinked(
                subject_ref=refs[0],
                linked_ref=other,
                occurred_at=occurred_at,
                source=source,
                event_id=uuid.uuid5(EVENT_NAMESPACE, f"link:{refs[0]}:{other}"),
            )
            out.append(link)
        return out

    def _subject_refs(self, obj: Mapping[str, Any]) -> list[str]:
        subject = obj.get("subject")
        if subject is not None:
            if not isinstance(subject, dict):
                raise InputError('subject must be an object like {"email": "jane@example.com"}')
            if not all(v.__class__ is str for v in subject.values()):
                return self._pseudo.refs(subject)  # the type errors, or numbers as given
            key = tuple(subject.items())
            refs = self._refs.get(key)
            if refs is None:
                if len(self._refs) >= _REFS_KEPT:
                    self._refs.clear()
                refs = self._refs[key] = self._pseudo.refs(subject)
            return list(refs)
        ref = obj.get("subject_ref")
        if isinstance(ref, str) and is_subject_ref(ref):
            return [ref]
        if ref is not None:
            raise InputError("subject_ref must be 64 hex digits")
        raise InputError('missing subject (e.g. "subject": {"email": "jane@example.com"})')

    def parse_lines(
        self, lines: Iterable[str | bytes], name: str, first: int = 1
    ) -> Iterator[Event]:
        """Parse a JSON Lines stream (text, or bytes decoded here as UTF-8); errors name
        ``name:line``, the first line numbered ``first``. Blank lines are skipped."""
        for lineno, raw in enumerate(lines, start=first):
            where = f"{name}:{lineno}"
            if len(raw) > MAX_LINE:
                raise InputError(
                    f"line of {len(raw):,} bytes: an event line may have at most {MAX_LINE:,}",
                    where,
                )
            if isinstance(raw, bytes):
                try:
                    line = raw.decode("utf-8")
                except UnicodeDecodeError as exc:
                    raise InputError(
                        f"not UTF-8: byte 0x{raw[exc.start]:02x} at column {exc.start + 1}", where
                    ) from None
            else:
                line = raw
            if not line.strip():
                continue
            try:
                # Without its line end, an error at the end of the line reports its real
                # column rather than column 1 of a next line.
                obj = json.loads(line.rstrip("\r\n"))
            except json.JSONDecodeError as exc:
                raise InputError(
                    f"malformed JSON: {exc.msg} at column {exc.colno}", where
                ) from None
            except RecursionError:
                raise InputError("malformed JSON: nested too deeply", where) from None
            # A lone surrogate can only come from a \uD800-\uDFFF escape in the line.
            surrogate = "\\u" in line and _SURROGATE.search(line) is not None
            yield from self.parse_object(obj, where, check_text=surrogate)


def _check_text(obj: Any) -> None:
    """Text must be valid Unicode: a lone surrogate (``"\\ud800"``) cannot be stored."""
    try:
        json.dumps(obj, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InputError(
            f"text holds a lone surrogate {exc.object[exc.start]!r}, which is not valid Unicode"
        ) from None
    except (RecursionError, ValueError):
        raise InputError("input nested too deeply") from None


def _required(obj: Mapping[str, Any], name: str) -> Any:
    if obj.get(name) is None:
        raise InputError(f"missing {name}")
    return obj[name]


def _uuid(value: Any) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise InputError(f"event_id {value!r} is not a UUID") from None


def _convert(name: str, value: Any) -> Any:
    if name in ("categories", "scope"):
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise InputError(f"{name} must be a list of strings")
        return tuple(value)
    if name in _TIME_FIELDS:
        try:
            return parse_time(value)
        except InputError as exc:
            raise InputError(exc.problem, name) from None
    if name == "evidence":
        if not isinstance(value, dict) or set(value) - {"text_version", "channel"}:
            raise InputError("evidence must be an object with text_version and/or channel")
        return Evidence(**value)
    if name == "attempt":
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise InputError("attempt must be a non-negative integer")
        return value
    if not isinstance(value, str):
        raise InputError(f"{name} must be a string")
    return value


def _content_id(record: dict[str, Any]) -> uuid.UUID:
    """UUIDv5 (``EVENT_NAMESPACE``) of the record's canonical JSON (sorted keys), without
    the envelope's event_id and recorded_at: ``uuid.uuid5(EVENT_NAMESPACE, canonical)``."""
    env = record["envelope"]
    envelope = {
        "event_type": env["event_type"],
        # What the default below would give, without a call back from the C encoder.
        "occurred_at": env["occurred_at"].isoformat(),
        "source": env["source"],
        "subject_ref": env["subject_ref"],
        "schema_version": env["schema_version"],
    }
    canonical = _canonical({**record, "envelope": envelope})
    # uuid.uuid5's own steps, with the namespace's part of the hash computed once.
    digest = _NAMESPACE_SHA1.copy()
    digest.update(canonical.encode())
    return uuid.UUID(bytes=digest.digest()[:16], version=5)


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(type(value).__name__)


def _canonical_encoder() -> Callable[[Any], str]:
    """json.dumps(obj, sort_keys=True, default=_json_default). ``JSONEncoder.encode`` makes
    the same C encoder for every call, which took half the time of the id; this one is made
    once (without the cycle check: a record has no cycles; the output is the same)."""
    encoder = json.JSONEncoder(sort_keys=True, default=_json_default)
    c_make_encoder = getattr(json.encoder, "c_make_encoder", None)
    if c_make_encoder is None:  # an interpreter without the C accelerator
        return encoder.encode
    make = c_make_encoder(
        None,
        _json_default,
        json.encoder.encode_basestring_ascii,
        None,
        ": ",
        ", ",
        True,
        False,
        True,
    )
    return lambda obj: "".join(make(obj, 0))


_canonical = _canonical_encoder()
# The hash of RFC 4122 name-based (version 5) UUIDs, fed the namespace once.
_NAMESPACE_SHA1 = hashlib.sha1(EVENT_NAMESPACE.bytes)
