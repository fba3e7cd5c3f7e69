"""Events dated ahead of the clock (a producer whose clock runs ahead): flagged at emit,
counted by status, and who-has says when it leaves them out."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from tests.conftest import Lineage, collected, erased


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_future_dated_events_are_flagged_counted_and_noticed(lineage: Lineage) -> None:
    ahead = datetime.now(UTC) + timedelta(days=1)
    path = lineage.home.parent / "clock-ahead.jsonl"
    events = [
        collected(),
        erased("webshop-db", occurred_at=_iso(ahead)),
        collected(email="other@example.com", occurred_at=_iso(ahead + timedelta(hours=1))),
        collected(email="soon@example.com", occurred_at=_iso(datetime.now(UTC))),
    ]
    path.write_text("".join(json.dumps(e) + "\n" for e in events))

    emitted = lineage("emit", "--file", str(path))
    assert emitted.exit_code == 0, emitted.output
    [warning] = emitted.stderr.strip().splitlines()
    assert warning.startswith("warning: 2 events are dated more than 300s ahead")
    assert f"first at {path}:2" in warning

    lineage.ok("project")  # status counts what is projected
    status = lineage.json("status")["projection"]
    assert status["future_events"] == 2
    assert status["first_future_event_at"] == _iso(ahead)
    assert "future-dated events  2" in lineage.ok("status").stdout

    # The erasure is hidden from the default answer, and who-has says so.
    answer = lineage.json("who-has", "jane@example.com")
    # Still held (past its P2Y retention by now, so overdue), not erased.
    assert [h["status"] for h in answer["holders"]] == ["overdue"]
    assert answer["holders"][0]["categories"]
    assert answer["omitted_future_events"] == 1
    table = lineage.ok("who-has", "jane@example.com")
    assert table.stderr.startswith("note: 1 events of this subject are dated in the future")
    assert "webshop-db" in table.stdout
    # Asked as of a later time, nothing is left out.
    later = lineage.json("who-has", "jane@example.com", "--as-of", _iso(ahead + timedelta(days=1)))
    assert later["omitted_future_events"] == 0
    assert lineage.ok("who-has", "other@example.com", "--as-of", _iso(ahead)).stderr.startswith(
        "note: 1 events"
    )
    assert lineage.json("who-has", "soon@example.com")["omitted_future_events"] == 0


def test_the_tolerance_is_a_setting(lineage: Lineage) -> None:
    patient = Lineage(lineage.home, env={"LINEAGE_FUTURE_TOLERANCE": str(3 * 86400)})
    ahead = _iso(datetime.now(UTC) + timedelta(days=2))
    result = patient.emit([erased("webshop-db", occurred_at=ahead)])
    assert result.exit_code == 0 and result.stderr == ""
    patient.ok("project")
    assert patient.json("status")["projection"]["future_events"] == 0
    assert lineage.json("status")["projection"]["future_events"] == 1
    # who-has still says what it leaves out, whatever the tolerance.
    assert patient.json("who-has", "jane@example.com")["omitted_future_events"] == 1


def test_single_event_form_is_flagged(lineage: Lineage) -> None:
    ahead = _iso(datetime.now(UTC) + timedelta(hours=2))
    result = lineage(
        "emit", "DataErased", "--id", "email=jane@example.com", "--at", ahead, "holder=crm"
    )
    assert result.exit_code == 0, result.output
    assert "first at --at" in result.stderr
