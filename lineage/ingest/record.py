"""The emit pipeline, one function for every producer of JSON events: ``lineage emit`` and
``POST /v1/events``.

Input objects are normalised and pseudonymised by the edge (``EventParser``), each checked
before anything is appended, and the events go to the log in one append, which is
all-or-nothing: one bad event and nothing of the input is recorded, with the error naming
the line (``file:12``) or the index (``body[3]``).
"""

from __future__ import annotations

import json
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from lineage.errors import InputError, LogDeliveryError
from lineage.events import kinds
from lineage.log.base import AppendResult

if TYPE_CHECKING:
    from lineage.edge.jsonl import EventParser
    from lineage.events.model import Event
    from lineage.services.app import App

Append = Callable[[Iterable["Event"]], AppendResult]
# What connectors and webhook routes record through: ``App.append`` (scrub, encode, one
# durable append), or the service's grouped writer; tests pass a list's ``extend``.
Sink = Callable[[Sequence["Event"]], Any]


@dataclass(frozen=True)
class Recorded:
    appended: int
    identity_links: int
    end: dict[int, int]
    # Events dated beyond the future tolerance, and where the first came from.
    future: int = 0
    first_future: str | None = None

    def to_json(self) -> dict[str, Any]:
        """What ``lineage emit --format json`` prints and the HTTP ingest answers."""
        out: dict[str, Any] = {
            "appended": self.appended,
            "identity_links": self.identity_links,
            "end": self.end,
        }
        if self.future:
            out.update(future_events=self.future, first_future_event=self.first_future)
        return out


class Input:
    """Parsed events of one input, remembering which place (``file:line``, ``body[i]``)
    each came from: to name the events a broker did not acknowledge, or that are dated in
    the future."""

    def __init__(
        self,
        events: Iterable[Event],
        place: Callable[[int], str],
        derived: list[tuple[int, str, str, datetime]] | None = None,
    ) -> None:
        self.events = events
        self.place = place
        # The identity links the parser derived, when it tracks them (``track_links``).
        self.derived = derived


def parser_for(app: App, source: str | None = None) -> EventParser:
    """A parser for one input (it remembers the identity links it has emitted)."""
    from lineage.edge.jsonl import EventParser

    return EventParser(
        app.pseudonymizer(), default_source=source or "emit", taxonomy=app.taxonomy()
    )


def from_lines(
    parser: EventParser, lines: Iterable[str | bytes], name: str, first: int = 1
) -> Input:
    """JSON Lines; errors name ``name:line``, the first line being line ``first``."""
    line_of = array("I")
    current = 0

    def numbered() -> Iterator[str | bytes]:
        nonlocal current
        for current, line in enumerate(lines, first):  # noqa: B007
            yield line

    def events() -> Iterator[Event]:
        for event in parser.parse_lines(numbered(), name, first):
            line_of.append(current)
            yield event

    return Input(events(), lambda i: f"{name}:{line_of[i]}", parser.derived)


def from_json(parser: EventParser, text: str, name: str) -> Input:
    """One JSON array of event objects (or a single object); errors name ``name[index]``."""
    index_of = array("I")

    def events() -> Iterator[Event]:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(
                f"malformed JSON: {exc.msg} at line {exc.lineno} column {exc.colno}", name
            ) from None
        except RecursionError:
            raise InputError("JSON nested too deeply", name) from None
        items = data if isinstance(data, list) else [data]
        for index, obj in enumerate(items):
            for event in parser.parse_object(obj, f"{name}[{index}]"):
                index_of.append(index)
                yield event

    return Input(events(), lambda i: f"{name}[{index_of[i]}]")


def from_object(
    parser: EventParser, obj: dict[str, Any], where: str, place: str | None = None
) -> Input:
    """One event object; errors name ``where``, its events are named ``place``."""
    return Input(parser.parse_object(obj, where), lambda i: place or where)


class Tally:
    """Counts what ``Recorded`` reports while the events pass: identity links, and events
    dated beyond the future tolerance (with the index of the first)."""

    def __init__(self, app: App) -> None:
        self.horizon = app.future_horizon()
        self.links = self.future = 0
        self.first_future: int | None = None

    def counted(self, events: Iterable[Event]) -> Iterator[Event]:
        for i, event in enumerate(events):
            if event.event_type == kinds.IDENTITY_LINKED:
                self.links += 1
            if event.occurred_at > self.horizon:
                self.future += 1
                self.first_future = i if self.first_future is None else self.first_future
            yield event

    def where(self, source: Input) -> str | None:
        return source.place(self.first_future) if self.first_future is not None else None


def record(app: App, source: Input, append: Append | None = None) -> Recorded:
    """Append ``source``'s events in one durable, all-or-nothing append (``app.append``
    unless another writer is given) and count what was recorded."""
    tally = Tally(app)
    try:
        result = (append or app.append)(tally.counted(source.events))
    except LogDeliveryError as exc:
        raise exc.naming(source.place) from None
    return Recorded(result.count, tally.links, result.end, tally.future, tally.where(source))


@dataclass(frozen=True)
class Prepared:
    """A batch ready for the log: its records as (key, encoded body), scrubbed, and what
    ``Recorded`` reports besides the append's outcome. Plain data: it crosses processes."""

    records: list[tuple[bytes, bytes]]
    # The subjects the batch is about (see ``touched``).
    refs: frozenset[str] | None
    # Where each record came from (``body:12``), to name those a broker did not acknowledge.
    places: list[str]
    identity_links: int
    future: int = 0
    first_future: str | None = None
    # The identity links the parser derived (when it tracked them): (index in ``records``,
    # subject_ref, linked_ref, dated in the future), for ``record_chunks``.
    derived: list[tuple[int, str, str, bool]] = field(default_factory=list)

    def recorded(self, result: AppendResult) -> Recorded:
        return Recorded(
            result.count, self.identity_links, result.end, self.future, self.first_future
        )


def prepare(app: App, source: Input) -> Prepared:
    """Everything ``record`` does before the append (parse, check, count, scrub, encode), in
    memory: one bad event raises before anything is appended."""
    from lineage.codec import default_codec

    encode = default_codec().encode
    tally = Tally(app)
    # Each event is encoded as it passes and only its bytes are kept: a batch's events
    # (with the records the edge keeps for the codec) held to the end gave the cyclic
    # collector that many more objects to walk at every collection.
    refs: Touched = Touched()
    records = [
        (e.subject_ref.encode(), encode(e))
        for e in refs.passing(app.scrubbed(tally.counted(source.events)))
    ]
    places = [source.place(i) for i in range(len(records))]
    derived = [(i, s, o, at > tally.horizon) for i, s, o, at in source.derived or ()]
    return Prepared(
        records, refs.refs, places, tally.links, tally.future, tally.where(source), derived
    )


def prepare_lines(
    app: App,
    data: bytes,
    name: str,
    first: int,
    source: str | None,
    parser: EventParser | None = None,
) -> Prepared:
    """``prepare`` of one chunk of a JSON Lines file: whole lines, the first being line
    ``first`` of ``name``. The chunk's derived identity links are kept in ``derived`` for
    ``record_chunks``, which drops those an earlier chunk emitted (one parser, reading the
    whole file, emits each link once). ``parser`` (``parser_for(app, source)``) may be one
    that prepared earlier chunks, for its caches."""
    import io

    parser = parser or parser_for(app, source)
    parser.track_links()
    # Split as reading the file splits it (at b"\n" only), each line decoded on its own.
    return prepare(app, from_lines(parser, io.BytesIO(data), name, first))


def record_chunks(app: App, chunks: Iterable[Prepared], name: str) -> Recorded:
    """Append the prepared chunks of one input, in order, in one all-or-nothing append (a
    chunk that raises, and nothing of the input is appended), with what ``record`` of the
    whole input in one pass would count and append."""
    from lineage.log.base import LogRecord

    linked: set[tuple[str, str]] = set()
    line_of = array("I")  # the line of each appended record, to name undelivered ones
    links = future = 0
    first_future: str | None = None

    def records() -> Iterator[LogRecord]:
        nonlocal links, future, first_future
        for chunk in chunks:
            dropped: set[int] = set()
            for index, subject, other, ahead in chunk.derived:
                if (subject, other) in linked:
                    dropped.add(index)
                    future -= ahead
                else:
                    linked.add((subject, other))
            links += chunk.identity_links - len(dropped)
            future += chunk.future
            # A dropped link is never a chunk's first future event: the event of its own
            # line, dated the same, comes before it.
            first_future = first_future or chunk.first_future
            places = chunk.places
            for index, (key, value) in enumerate(chunk.records):
                if index in dropped:
                    continue
                line_of.append(int(places[index].rpartition(":")[2]))
                yield LogRecord(value, key)

    def place(i: int) -> str:
        return f"{name}:{line_of[i]}"

    try:
        result = app.log.append(records())
    except LogDeliveryError as exc:
        raise exc.naming(place) from None
    return Recorded(result.count, links, result.end, future, first_future)


# Events about the company, not one subject: an answer about anyone may depend on them.
_COMPANY_WIDE = frozenset({kinds.RETENTION_DECLARED, kinds.CATALOG_CHANGED})


def touched(events: Iterable[Event]) -> frozenset[str] | None:
    """The subject references whose answers ``events`` can change: their subjects and the
    references they link them to; None when one is about the whole company."""
    seen = Touched()
    for _ in seen.passing(events):
        pass
    return seen.refs


class Touched:
    """``touched`` of the events that pass through ``passing``, gathered on the way."""

    def __init__(self) -> None:
        self._refs: set[str] = set()
        self._company = False

    @property
    def refs(self) -> frozenset[str] | None:
        return None if self._company else frozenset(self._refs)

    def passing(self, events: Iterable[Event]) -> Iterator[Event]:
        add = self._refs.add
        for e in events:
            if e.event_type in _COMPANY_WIDE:
                self._company = True
            add(e.subject_ref)
            linked = getattr(e, "linked_ref", None)
            if linked:
                add(linked)
            yield e
