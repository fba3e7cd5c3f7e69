"""The emit pipeline, one function for every producer of JSON events: ``lineage emit`` and
``POST /v1/events``.

Input objects are normalised and pseudonymised by the edge (``EventParser``), each checked
before anything is appended, and the events go to the log in one append, which is
all-or-nothing: one bad event and nothing of the input is recorded, with the error naming
the line (``file:12``) or the index (``body[3]``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lineage.errors import InputError
from lineage.log.base import AppendResult

if TYPE_CHECKING:
    from lineage.edge.jsonl import EventParser
    from lineage.events.model import Event
    from lineage.services.app import App

Append = Callable[[Iterable["Event"]], AppendResult]


@dataclass(frozen=True)
class Recorded:
    appended: int
    identity_links: int
    end: dict[int, int]

    def to_json(self) -> dict[str, Any]:
        """What ``lineage emit --format json`` prints and the HTTP ingest answers."""
        return {"appended": self.appended, "identity_links": self.identity_links, "end": self.end}


def parser_for(app: App, source: str | None = None) -> EventParser:
    """A parser for one input (it remembers the identity links it has emitted)."""
    from lineage.edge.jsonl import EventParser

    return EventParser(
        app.pseudonymizer(), default_source=source or "emit", taxonomy=app.taxonomy()
    )


def from_lines(parser: EventParser, lines: Iterable[str], name: str) -> Iterator[Event]:
    """JSON Lines; errors name ``name:line``."""
    return parser.parse_lines(lines, name)


def from_json(parser: EventParser, text: str, name: str) -> Iterator[Event]:
    """One JSON array of event objects (or a single object); errors name ``name[index]``."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"malformed JSON: {exc.msg} at line {exc.lineno} column {exc.colno}", name
        ) from None
    items = data if isinstance(data, list) else [data]
    for index, obj in enumerate(items):
        yield from parser.parse_object(obj, f"{name}[{index}]")


def record(app: App, events: Iterable[Event], append: Append | None = None) -> Recorded:
    """Append ``events`` in one durable, all-or-nothing append (``app.append`` unless another
    writer is given) and count what was recorded."""
    links = 0

    def counted() -> Iterator[Event]:
        nonlocal links
        for event in events:
            if event.event_type == "IdentityLinked":
                links += 1
            yield event

    result = (append or app.append)(counted())
    return Recorded(result.count, links, result.end)
