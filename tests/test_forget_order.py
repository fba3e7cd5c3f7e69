"""Forgetting does not depend on the order completions are recorded. A completion of a request
dated earlier than one recorded before it lowers the request's cut-off: the lineage rows
dropped under the later cut-off that must stay are read back from the log, so the projection
kept batch by batch answers as a rebuild does (``Projector._restore``)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from lineage.codec import default_codec
from lineage.config import resolve
from lineage.events.model import (
    DataCollected,
    ErasureCompleted,
    ErasureRequested,
    Event,
)
from lineage.log.base import LogRecord
from lineage.projection import projector
from lineage.services.app import App
from lineage.services.whohas import who_has
from tests.conftest import Lineage
from tests.test_forget_batches import _collected as collected_of

REF = "ab" * 32
RID = "r-late"
T0 = datetime(2024, 1, 1, tzinfo=UTC)  # collected: forgotten under either completion
T1_DONE = datetime(2024, 3, 1, tzinfo=UTC)  # the earlier completion, recorded last
T1 = datetime(2024, 6, 1, tzinfo=UTC)  # collected after the earlier completion: new data
T2_DONE = datetime(2024, 9, 1, tzinfo=UTC)  # the later completion, recorded first
AS_OF = datetime(2025, 1, 1, tzinfo=UTC)


def _collected(when: datetime, system: str) -> DataCollected:
    return collected_of(REF, when, system)


def _done(when: datetime) -> ErasureCompleted:
    return ErasureCompleted(subject_ref=REF, occurred_at=when, source="test", request_id=RID)


FIRST: list[Event] = [
    _collected(T0, "webshop"),
    _collected(T1, "crm"),
    ErasureRequested(
        subject_ref=REF,
        occurred_at=datetime(2023, 12, 1, tzinfo=UTC),
        source="test",
        request_id=RID,
        received_at=datetime(2023, 12, 1, tzinfo=UTC),
    ),
    _done(T2_DONE),
]
SECOND: list[Event] = [_done(T1_DONE)]


def _append(app: App, events: list[Event]) -> None:
    codec = default_codec()
    app.log.append(LogRecord(codec.encode(e), e.subject_ref.encode()) for e in events)


def _answer(app: App) -> tuple[list[str], list[tuple[Any, ...]]]:
    with app.store() as store:
        app.catch_up(store)
        holders = sorted(h["holder"] for h in who_has(store, [REF], AS_OF)["holders"])
        events = store.con.execute(
            "SELECT event_id, event_type, occurred_at, log_offset FROM events ORDER BY ALL"
        ).fetchall()
    return holders, events


def _scenario(app: App) -> None:
    _append(app, FIRST)
    assert _answer(app)[0] == []  # both collections before the (later) completion
    _append(app, SECOND)
    holders, events = _answer(app)
    assert holders == ["crm"]  # collected after the erasure happened: held, and shown
    app.rebuild()
    assert _answer(app) == (holders, events)


@pytest.mark.parametrize("prefilter", [True, False])
def test_an_earlier_completion_recorded_later_gives_back_the_data_collected_after_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, prefilter: bool
) -> None:
    if not prefilter:  # many references lowered at once: every record is decoded
        monkeypatch.setattr(projector, "PREFILTER_MAX_REFS", 0)
    app = App(resolve(tmp_path / "home"))
    app.init()
    try:
        _scenario(app)
    finally:
        app.close()


def test_a_repeat_recorded_with_the_earlier_completion_leaves_the_first_record(
    tmp_path: Path,
) -> None:
    """The t1 collection delivered again in the batch that lowers the cut-off: projected
    there (nothing of its id was left), it is the first record that stays, as in a replay."""
    app = App(resolve(tmp_path / "home"))
    app.init()
    try:
        _append(app, FIRST)
        _answer(app)
        _append(app, [FIRST[1], *SECOND])
        holders, events = _answer(app)
        assert holders == ["crm"]
        app.rebuild()
        assert _answer(app) == (holders, events)
    finally:
        app.close()


@pytest.fixture
def kafka_app(kafka_home: Lineage, monkeypatch: pytest.MonkeyPatch) -> Iterator[App]:
    for name, value in kafka_home.env.items():
        monkeypatch.setenv(name, value)
    app = App(resolve(kafka_home.home))
    try:
        yield app
    finally:
        app.close()


@pytest.mark.kafka
def test_the_same_on_kafka(kafka_app: App) -> None:
    _scenario(kafka_app)


def test_after_compaction_the_log_cannot_give_them_back_and_a_rebuild_agrees(
    tmp_path: Path,
) -> None:
    from lineage.services.compact import compact

    app = App(resolve(tmp_path / "home"))
    app.init()
    try:
        _append(app, FIRST)
        result = compact(app)  # under the later completion: both collections leave the log
        assert result.dropped == 2
        _append(app, SECOND)
        holders, events = _answer(app)
        assert holders == []
        assert sorted(e[1] for e in events) == ["ErasureCompleted"] * 2 + ["ErasureRequested"]
        app.rebuild()
        assert _answer(app) == (holders, events)
    finally:
        app.close()
