"""Bad input to ``lineage emit``: exit 2, one line naming the place and the problem, and
nothing of the input appended, wherever in the input the bad line is."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result

from tests.conftest import Lineage, collected, shared, transferred


def good(n: int) -> list[str]:
    kinds = (collected, shared, transferred)
    return [json.dumps(kinds[i % 3](email=f"user{i}@example.com")) for i in range(n)]


def without(event: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in event.items() if k != key}


# name: (the bad line, fragments the error must contain)
BAD_LINES: dict[str, tuple[str, list[str]]] = {
    "malformed JSON": (
        '{"event_type": "DataCollected", "source": "webshop",',
        ["malformed JSON", "column 53"],
    ),
    "not an object": ('["DataCollected"]', ["JSON object"]),
    "unknown event type": (
        json.dumps(collected(event_type="DataColected")),
        ["unknown event type 'DataColected'", "'DataCollected'"],
    ),
    "unknown category": (
        json.dumps(collected(categories=["user.name", "user.contact.emial"])),
        ["unknown data category 'user.contact.emial'", "'user.contact.email'"],
    ),
    "unknown data use": (
        json.dumps(collected(purpose="marketing.communications.emial")),
        ["unknown data use 'marketing.communications.emial'", "'marketing.communications.email'"],
    ),
    "unknown data subject": (
        json.dumps(collected(data_subject="custmer")),
        ["unknown data subject 'custmer'", "'customer'"],
    ),
    "missing subject": (json.dumps(without(collected(), "subject")), ["missing subject"]),
    "empty subject": (json.dumps(collected(subject={})), ["no identifier"]),
    "bad identifier": (json.dumps(collected(email="not-an-email")), ["not an e-mail address"]),
    "bad timestamp": (
        json.dumps(collected(occurred_at="2024-13-45T09:30:00Z")),
        ["'2024-13-45T09:30:00Z'", "ISO 8601"],
    ),
    "timestamp without zone": (
        json.dumps(collected(occurred_at="2024-01-15T09:30:00")),
        ["no time zone"],
    ),
    "missing timestamp": (json.dumps(without(collected(), "occurred_at")), ["occurred_at"]),
    "bad destination country": (
        json.dumps(transferred(destination_country="XX")),
        ["destination_country", "'XX'", "country code"],
    ),
    "country name instead of code": (
        json.dumps(shared(recipient_country="Denmark")),
        ["recipient_country", "'Denmark'", "country code"],
    ),
    "unknown mechanism": (
        json.dumps(transferred(mechanism="privacy_sheild")),
        ["unknown transfer mechanism 'privacy_sheild'", "'privacy_shield'"],
    ),
    "unknown legal basis": (json.dumps(collected(legal_basis="contarct")), ["'contract'"]),
    "unknown field": (
        json.dumps({**collected(), "sytem": "crm"}),
        ["unknown field 'sytem'", "'system'"],
    ),
    "missing field": (json.dumps(without(collected(), "system")), ["needs system"]),
    "bad retention": (json.dumps(collected(retention="2 years")), ["retention", "duration"]),
    "bad event id": (json.dumps(collected(event_id="42")), ["event_id", "not a UUID"]),
}

# (good lines before, good lines after) the bad one
PLACES = {"first": (0, 30), "middle": (25, 25), "last of many": (400, 0)}


def log_state(home: Path) -> dict[str, Any]:
    """Everything that shows whether the log changed: HEAD and the segment files."""
    log = home / "log"
    return {
        "head": (log / "HEAD").read_bytes(),
        "segments": {p.name: p.read_bytes() for p in sorted(log.glob("*.seg"))},
    }


def assert_one_error_line(result: Result, where: str, fragments: list[str]) -> None:
    assert result.exit_code == 2, (result.output, result.exception)
    assert result.stdout == ""
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"error: {where}: "), lines[0]
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


@pytest.fixture
def seeded(lineage: Lineage) -> Lineage:
    """A home whose log already holds events, so the end offset is not the start."""
    assert lineage.emit([json.loads(line) for line in good(5)], name="seed.jsonl").exit_code == 0
    return lineage


@pytest.mark.parametrize("place", list(PLACES))
@pytest.mark.parametrize("case", list(BAD_LINES))
def test_bad_line_in_a_file(seeded: Lineage, case: str, place: str) -> None:
    bad, fragments = BAD_LINES[case]
    before_n, after_n = PLACES[place]
    lines = [*good(before_n), bad, *good(after_n)]
    path = seeded.home.parent / "events.jsonl"
    path.write_text("\n".join(lines) + "\n")
    state = log_state(seeded.home)
    end = seeded.json("status")["log"]["end"]

    result = seeded("emit", "--file", str(path))

    assert_one_error_line(result, f"{path}:{before_n + 1}", fragments)
    assert log_state(seeded.home) == state
    assert seeded.json("status")["log"]["end"] == end


def test_nothing_appended_across_new_segments(
    seeded: Lineage, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Small segments: the rejected file had already spilled into new segment files.
    monkeypatch.setenv("LINEAGE_SEGMENT_BYTES", "4096")
    path = seeded.home.parent / "events.jsonl"
    path.write_text("\n".join([*good(300), BAD_LINES["unknown category"][0]]) + "\n")
    state = log_state(seeded.home)
    result = seeded("emit", "--file", str(path))
    assert_one_error_line(result, f"{path}:301", BAD_LINES["unknown category"][1])
    assert log_state(seeded.home) == state
    # The log is still usable, and what is appended next starts at the old end.
    assert seeded.emit([collected(email="later@example.com")]).exit_code == 0
    projected = seeded.json("project")
    assert projected["applied"] == 6 and projected["set_aside"] == []


def test_line_numbers_count_blank_lines_and_only_the_first_error_is_reported(
    seeded: Lineage,
) -> None:
    path = seeded.home.parent / "events.jsonl"
    first_bad = json.dumps(collected(mechanism="x", data_subject="custmer"))
    second_bad = BAD_LINES["malformed JSON"][0]
    path.write_text("\n".join([*good(3), "", "   ", first_bad, second_bad, *good(3)]) + "\n")
    result = seeded("emit", "--file", str(path))
    assert_one_error_line(result, f"{path}:6", ["unknown field 'mechanism'"])


def test_nothing_of_a_rejected_file_is_projected(seeded: Lineage) -> None:
    path = seeded.home.parent / "events.jsonl"
    path.write_text("\n".join([*good(50), BAD_LINES["bad timestamp"][0]]) + "\n")
    assert seeded("emit", "--file", str(path)).exit_code == 2
    assert seeded.json("project")["applied"] == 5
    assert seeded.json("who-has", "user10@example.com")["holders"] == []


@pytest.mark.parametrize("case", ["malformed JSON", "unknown data use", "unknown field"])
def test_bad_line_on_stdin(seeded: Lineage, case: str) -> None:
    bad, fragments = BAD_LINES[case]
    state = log_state(seeded.home)
    text = "\n".join([*good(40), bad, *good(2)]) + "\n"
    result = seeded("emit", "--file", "-", input=text)
    assert_one_error_line(result, "<stdin>:41", fragments)
    assert log_state(seeded.home) == state


def test_good_stdin_is_appended(seeded: Lineage) -> None:
    result = seeded.ok("emit", "--file", "-", input="\n".join(good(4)) + "\n")
    assert result.stdout.strip() == "appended 4 events"


SINGLE = [
    "DataCollected",
    "--id",
    "email=jane@example.com",
    "categories=user.name,user.contact.email",
    "system=webshop-db",
    "purpose=essential.service",
    "legal_basis=contract",
    "data_subject=customer",
]


def _set(args: list[str], key: str, value: str) -> list[str]:
    return [f"{key}={value}" if a.startswith(f"{key}=") else a for a in args]


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (
            _set(SINGLE, "categories", "user.name,user.contact.emial"),
            ["unknown data category 'user.contact.emial'", "'user.contact.email'"],
        ),
        (_set(SINGLE, "data_subject", "custmer"), ["'customer'"]),
        (["DataColected", *SINGLE[1:]], ["unknown event type", "'DataCollected'"]),
        ([*SINGLE, "sytem=crm"], ["unknown field 'sytem'"]),
        ([SINGLE[0], *SINGLE[3:]], ["missing subject"]),
        ([*SINGLE, "--at", "yesterday"], ["'yesterday'", "ISO 8601"]),
    ],
)
def test_bad_single_event(seeded: Lineage, args: list[str], fragments: list[str]) -> None:
    state = log_state(seeded.home)
    result = seeded("emit", *args)
    assert_one_error_line(result, "command line", fragments)
    assert log_state(seeded.home) == state


def test_good_single_event_is_appended(seeded: Lineage) -> None:
    assert seeded.ok("emit", *SINGLE).stdout.strip() == "appended 1 events"
    holders = seeded.json("who-has", "jane@example.com")["holders"]
    assert [h["holder"] for h in holders] == ["webshop-db"]
