"""Forgetting after every batch drops the same rows however the log is cut into batches: the
projector recomputes the forgotten subjects only for a batch that can change them, and
otherwise checks only the batch's own rows (``queries/forget_needed.sql``)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from lineage.codec import default_codec
from lineage.events.model import (
    DataCollected,
    ErasureCompleted,
    ErasureRequested,
    Event,
    IdentityLinked,
)
from lineage.log.base import LogRecord
from lineage.log.memory import MemoryLog
from lineage.projection.projector import Projector
from lineage.projection.store import Store

A, B, C, D = (f"{n:x}" * 64 for n in (10, 11, 12, 13))


def _at(year: int, month: int = 1) -> datetime:
    return datetime(year, month, 1, tzinfo=UTC)


def _collected(ref: str, when: datetime, system: str = "webshop") -> DataCollected:
    return DataCollected(
        subject_ref=ref,
        occurred_at=when,
        source="test",
        categories=("user.contact.email",),
        system=system,
        purpose="essential.service",
        legal_basis="contract",
        data_subject="customer",
    )


def _erasure(ref: str, rid: str, when: datetime) -> tuple[ErasureRequested, ErasureCompleted]:
    requested = ErasureRequested(
        subject_ref=ref, occurred_at=when, source="test", request_id=rid, received_at=when
    )
    done = ErasureCompleted(subject_ref=ref, occurred_at=_at(2021), source="test", request_id=rid)
    return requested, done


def _events() -> list[Event]:
    a_requested, a_done = _erasure(A, "r-a", _at(2020, 12))
    c_requested, c_done = _erasure(C, "r-c", _at(2020, 12))
    return [
        _collected(A, _at(2020)),
        _collected(B, _at(2020)),
        _collected(D, _at(2020)),
        a_requested,
        a_done,
        _collected(D, _at(2020, 2), "crm"),
        _collected(A, _at(2020, 6), "crm"),  # recorded late, before the completion: forgotten
        _collected(A, _at(2022), "crm"),  # collected again after it: kept
        _collected(D, _at(2020, 3), "shop2"),
        IdentityLinked(subject_ref=B, linked_ref=A, occurred_at=_at(2020), source="test"),
        _collected(B, _at(2020, 7), "crm"),  # now in A's component: forgotten
        c_done,  # completion recorded before its request
        _collected(C, _at(2020)),
        _collected(D, _at(2020, 4), "shop3"),
        c_requested,
        _collected(D, _at(2020, 5), "shop4"),
    ]


def _project(batch_size: int) -> list[tuple[str, str, str]]:
    codec = default_codec()
    log = MemoryLog()
    log.append(LogRecord(codec.encode(e), e.subject_ref.encode()) for e in _events())
    store = Store()
    Projector(store, log, codec, batch_size=batch_size).run()
    rows = store.con.execute(
        "SELECT event_type, subject_ref, coalesce(holder, '') FROM events ORDER BY ALL"
    ).fetchall()
    return [(t, r[:1], h) for t, r, h in rows]


@pytest.mark.parametrize("batch_size", [1, 2, 3, 5])
def test_small_batches_forget_what_one_batch_forgets(batch_size: int) -> None:
    whole = _project(1000)
    assert _project(batch_size) == whole
    lineage = [row for row in whole if row[0] == "DataCollected"]
    assert lineage == [
        ("DataCollected", "a", "crm"),  # the 2022 collection
        ("DataCollected", "d", "crm"),
        ("DataCollected", "d", "shop2"),
        ("DataCollected", "d", "shop3"),
        ("DataCollected", "d", "shop4"),
        ("DataCollected", "d", "webshop"),
    ]
