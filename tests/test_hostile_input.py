"""Hostile input at the JSON Lines edge and in time arguments: one ``file:line`` (or option)
error, exit 2, nothing appended, never a traceback. Fuzzed with hypothesis, bounded so the
suite stays fast."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from lineage.codec import default_codec
from lineage.edge.identity import Pseudonymizer
from lineage.edge.jsonl import EventParser
from lineage.errors import InputError
from lineage.timeutil import parse_time
from tests.conftest import Lineage, collected
from tests.test_emit_bad_input import assert_one_error_line, good, log_state

PSEUDO = Pseudonymizer(b"hostile-input-key-0123456789abcdef")
GOOD = json.dumps(collected()).encode()


def _with(**over: Any) -> bytes:
    return json.dumps(collected(**over)).encode()


# name: (the bad line as bytes, a fragment the error must contain)
HOSTILE: dict[str, tuple[bytes, str]] = {
    "non-UTF-8 bytes": (GOOD[:40] + b"\xff\xfe" + GOOD[40:], "not UTF-8: byte 0xff"),
    "lone surrogate": (GOOD.replace(b"jane@", b"jane\\ud800@"), "lone surrogate"),
    "JSON nested 100,000 deep": (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    "year 1 with an offset": (_with(occurred_at="0001-01-01T00:00:00+14:00"), "out of range"),
    "year 9999 with an offset": (_with(occurred_at="9999-12-31T23:59:59-14:00"), "out of range"),
    "17 MB event line": (_with(system="x" * (17 * 1024 * 1024)), "an event line may have"),
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_hostile_line_is_one_error_naming_the_line(lineage: Lineage, case: str) -> None:
    bad, fragment = HOSTILE[case]
    assert lineage.emit([collected(email="seed@example.com")]).exit_code == 0
    path = lineage.home.parent / "hostile.jsonl"
    path.write_bytes(b"\n".join([*(g.encode() for g in good(3)), bad, GOOD]) + b"\n")
    state = log_state(lineage.home)
    result = lineage("emit", "--file", str(path))
    assert_one_error_line(result, f"{path}:4", [fragment])
    assert log_state(lineage.home) == state


def test_hostile_bytes_on_stdin_name_the_line(lineage: Lineage) -> None:
    process = subprocess.run(
        lineage.command("emit", "--file", "-"),
        input=GOOD + b"\n" + b"\xc3\x28\n",
        capture_output=True,
        env=lineage.process_env(),
    )
    assert process.returncode == 2
    assert process.stderr.decode().strip() == ("error: <stdin>:2: not UTF-8: byte 0xc3 at column 1")


@pytest.mark.parametrize(
    "as_of", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "soon", "2024-02-30"]
)
@pytest.mark.parametrize(
    "command",
    [
        ("who-has", "jane@example.com", "--as-of"),
        ("exposed", "--holder", "crm", "--at"),
        ("map", "--format", "dot", "-o", "-", "--as-of"),
        ("erase", "jane@example.com", "--received-at"),
    ],
)
def test_bad_time_option_is_a_one_line_usage_error(
    lineage: Lineage, command: tuple[str, ...], as_of: str
) -> None:
    state = log_state(lineage.home)
    result = lineage(*command, as_of)
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {command[-1]}: "), lines
    assert log_state(lineage.home) == state


def test_times_at_the_ends_of_the_calendar_still_answer(lineage: Lineage) -> None:
    # Valid in UTC, with a retention that reaches past year 9999: kept to the calendar's end.
    assert lineage.emit([collected(occurred_at="9999-12-31T00:00:00Z")]).exit_code == 0
    for as_of in ("0001-01-01T00:00:00Z", "9999-12-31T23:59:59.999999Z"):
        lineage.json("who-has", "jane@example.com", "--as-of", as_of)
    holders = lineage.json("who-has", "jane@example.com", "--as-of", "9999-12-31T12:00:00Z")
    assert holders["holders"][0]["retain_until"].startswith("9999-12-31")


# -- fuzzing -------------------------------------------------------------------------------

_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=20)
    | st.sampled_from(["2024-01-15T09:30:00Z", "P2Y", "user.name", "DataCollected"]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner),
    max_leaves=12,
)
_FIELDS = list(collected())


def _mutated(draw_value: Any, key: str) -> bytes:
    event = collected()
    event[key] = draw_value
    return json.dumps(event).encode()


def _parse_and_encode(line: bytes) -> None:
    """Either events that the codec can encode, or an InputError naming the line."""
    parser = EventParser(PSEUDO)
    try:
        events = list(parser.parse_lines([line], "fuzz.jsonl"))
    except InputError as exc:
        assert exc.where == "fuzz.jsonl:1", exc
        assert "\n" not in str(exc)
        return
    codec = default_codec()
    for event in events:
        codec.encode(event)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(line=st.binary(max_size=200))
@example(line=b"\xed\xa0\x80")  # a surrogate encoded as UTF-8 bytes
def test_fuzz_arbitrary_bytes(line: bytes) -> None:
    _parse_and_encode(line)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(key=st.sampled_from([*_FIELDS, "event_id", "evidence", "attempt", "scope"]), value=_json)
@example(key="attempt", value=10**30)
@example(key="retention", value="P99999Y")
def test_fuzz_one_field_of_a_valid_event(key: str, value: Any) -> None:
    _parse_and_encode(_mutated(value, key))


@settings(max_examples=200, deadline=None)
@given(
    line=st.text(max_size=120).map(lambda t: t.encode("utf-8", "surrogatepass")),
)
def test_fuzz_text_lines(line: bytes) -> None:
    _parse_and_encode(line)


_zones = st.integers(min_value=-14 * 60, max_value=14 * 60).map(
    lambda m: timezone(timedelta(minutes=m))
)


@settings(max_examples=300, deadline=None)
@given(
    when=st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59)),
    zone=_zones,
)
def test_fuzz_times_with_offsets(when: datetime, zone: timezone) -> None:
    text = when.replace(tzinfo=zone).isoformat()
    try:
        parsed = parse_time(text, where="--as-of")
    except InputError as exc:
        assert exc.where == "--as-of" and "out of range" in exc.problem
        return
    assert parsed.tzinfo is UTC or parsed.utcoffset() == timedelta(0)
    assert parsed == when.replace(tzinfo=zone)


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=40))
def test_fuzz_time_text(text: str) -> None:
    try:
        parse_time(text, assume_utc=True, where="--as-of")
    except InputError as exc:
        assert exc.where == "--as-of"


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    when=st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31)),
    zone=_zones,
)
@example(when=datetime(1, 1, 1), zone=timezone(timedelta(hours=14)))
@example(when=datetime(9999, 12, 31, 23, 59), zone=timezone(timedelta(hours=-14)))
def test_fuzz_who_has_as_of(seeded_home: Lineage, when: datetime, zone: timezone) -> None:
    result = seeded_home(
        "who-has", "jane@example.com", "--as-of", when.replace(tzinfo=zone).isoformat()
    )
    assert result.exit_code in (0, 2), (result.output, result.exception)
    if result.exit_code == 2:
        assert result.stderr.startswith("error: --as-of: ") and result.stderr.count("\n") == 1


@pytest.fixture
def seeded_home(lineage: Lineage) -> Lineage:
    assert lineage.emit([collected(), collected(occurred_at="9999-12-30T00:00:00Z")]).exit_code == 0
    lineage.ok("project")
    return lineage


def test_hostile_file_leaves_nothing(tmp_path: Path, lineage: Lineage) -> None:
    # Bad bytes after many good lines: still nothing appended from the file.
    path = tmp_path / "late.jsonl"
    path.write_bytes(b"\n".join([*(g.encode() for g in good(200)), b"\x80"]) + b"\n")
    state = log_state(lineage.home)
    assert_one_error_line(lineage("emit", "--file", str(path)), f"{path}:201", ["not UTF-8"])
    assert log_state(lineage.home) == state
