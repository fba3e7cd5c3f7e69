"""The edge's content-derived event ids and the records it keeps for the codec.

An absent ``event_id`` is derived from the event's content, so re-recording the same input
records nothing twice: the derivation may get faster, never different. The reference below is
the documented construction (UUIDv5 of the canonical JSON of the record without its
``event_id`` and ``recorded_at``), written out independently of lineage's code.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lineage.codec import default_codec
from lineage.edge.identity import Pseudonymizer
from lineage.edge.jsonl import EVENT_NAMESPACE, EventParser
from lineage.edge.scrub import TEXT_FIELDS, Scrubber
from lineage.events.model import Event
from tests.golden.make_golden import GOLDEN_EVENTS

KEY = bytes(range(32))
CODEC = default_codec()


def reference_id(record: dict[str, Any]) -> uuid.UUID:
    envelope = dict(record["envelope"])
    del envelope["event_id"], envelope["recorded_at"]
    canonical = json.dumps(
        {**record, "envelope": envelope}, sort_keys=True, default=lambda v: v.isoformat()
    )
    return uuid.uuid5(EVENT_NAMESPACE, canonical)


def input_object(event: Event) -> dict[str, Any]:
    """The JSON Lines form of a (valid) golden event, without its envelope."""
    obj: dict[str, Any] = {"event_type": event.event_type}
    for name, value in event.to_record().items():
        if name == "envelope" or value is None:
            continue
        obj[name] = value.isoformat() if isinstance(value, datetime) else value
    return obj


_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=30)
_times = st.datetimes(
    min_value=datetime(1990, 1, 1),
    max_value=datetime(2090, 1, 1),
    timezones=st.sampled_from([UTC, None]),
)


@st.composite
def lines(draw: st.DrawFn) -> tuple[dict[str, Any], str | None]:
    """A valid input object of any event type, with drawn subject, time, source and free
    text; and the e-mail address put in its free text, if any."""
    obj = input_object(GOLDEN_EVENTS[draw(st.sampled_from(sorted(GOLDEN_EVENTS)))])
    subject = {"email": draw(st.emails())}
    if draw(st.booleans()):
        subject["customer_number"] = draw(st.from_regex(r"C[0-9]{1,8}", fullmatch=True))
    at = draw(_times)
    obj.update(
        subject=subject,
        # A naive time here is written as a date (midnight UTC), which the edge accepts.
        occurred_at=at.isoformat() if at.tzinfo else at.date().isoformat(),
        source=draw(st.text(min_size=1, max_size=20).filter(str.strip)),
    )
    planted = None
    for name in sorted(TEXT_FIELDS & obj.keys()):
        planted = draw(st.from_regex(r"[a-z][a-z0-9.]{0,10}@[a-z]{1,10}\.(com|dk)", fullmatch=True))
        obj[name] = f"{draw(_text)} {planted} {draw(_text)}"
    return obj, planted


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(lines(), min_size=1, max_size=8))
def test_derived_ids_are_the_documented_construction(batch: list[Any]) -> None:
    parser = EventParser(Pseudonymizer(KEY))
    scrubber = Scrubber(Pseudonymizer(KEY))
    for i, (obj, planted) in enumerate(batch):
        events = parser.parse_object(obj, f"test:{i}")
        first = events[0]
        assert first.event_id == reference_id(first.to_record())
        for event in events:
            # The record the edge kept for the codec is the event's record: same bytes.
            expected = CODEC.encode_record(event.event_type, event.to_record())
            assert CODEC.encode(event) == expected
            # Scrubbing makes a new event; what is encoded is its text, not the kept one.
            clean = scrubber.event(event)
            data = CODEC.encode(clean)
            assert data == CODEC.encode_record(clean.event_type, clean.to_record())
            if planted is not None:
                assert planted.encode() not in data


def test_the_same_line_twice_gets_the_same_id_and_a_change_another() -> None:
    obj = input_object(GOLDEN_EVENTS["DataCollected"])
    obj.update(subject={"email": "jane@example.com"}, occurred_at="2024-01-15T09:30:00+01:00")
    one = EventParser(Pseudonymizer(KEY)).parse_object(dict(obj))[0]
    two = EventParser(Pseudonymizer(KEY)).parse_object(dict(obj))[0]
    assert one.event_id == two.event_id == reference_id(one.to_record())
    other = EventParser(Pseudonymizer(KEY)).parse_object({**obj, "system": "crm"})[0]
    assert other.event_id != one.event_id
