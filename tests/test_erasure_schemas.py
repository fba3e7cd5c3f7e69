"""Schema evolution of the erasure events: bytes written before version 2 still decode."""

from __future__ import annotations

from datetime import UTC, datetime

from lineage.codec import default_codec
from lineage.events.model import ErasureRequested, ErasureTaskUpdated

# Golden bytes written with schemas/history/*.v1.avsc (single-object encoding).
V1_REQUESTED = bytes.fromhex(
    "c3010eb9005a4543aa5a4830623761336332652d356431302d346335352d396431662d366631633262316535"
    "61386520457261737572655265717565737465648080dde9c1a389068080dde9c1a389060664706f80016161"
    "6161616161616161616161616161616161616161616161616161616161616161616161616161616161616161"
    "6161616161616161616161616161616161610206722d318080dde9c1a3890600"
)
V1_TASK = bytes.fromhex(
    "c30110e2b03a151de2594830623761336332652d356431302d346335352d396431662d366631633262316535"
    "61386524457261737572655461736b557064617465648080dde9c1a389068080dde9c1a389060664706f8001"
    "6161616161616161616161616161616161616161616161616161616161616161616161616161616161616161"
    "61616161616161616161616161616161616161610206722d3112652d636f6e6f6d69631072657461696e6564"
    "0216626f6f6b6b656570696e670280809a8381dace06"
)


def test_v1_request_decodes_with_defaults() -> None:
    event = default_codec().decode_event(V1_REQUESTED)
    assert isinstance(event, ErasureRequested)
    assert (event.request_id, event.scope, event.kind) == ("r-1", (), "erasure")


def test_v1_task_decodes_with_defaults() -> None:
    event = default_codec().decode_event(V1_TASK)
    assert isinstance(event, ErasureTaskUpdated)
    assert (event.holder, event.status, event.reason) == ("e-conomic", "retained", "bookkeeping")
    assert event.retain_until == datetime(2029, 1, 1, tzinfo=UTC)
    assert (event.action, event.categories, event.executor, event.attempt) == (None, (), None, 0)


def test_v2_round_trip() -> None:
    codec = default_codec()
    event = ErasureTaskUpdated(
        subject_ref="b" * 64,
        occurred_at=datetime(2025, 1, 1, tzinfo=UTC),
        source="lineage-erasure",
        request_id="r-2",
        holder="mailchimp",
        status="confirmed",
        action="erase",
        categories=("user.contact.email",),
        executor="webhook",
        attempt=2,
        note="POST /erase -> 200",
    )
    assert codec.decode_event(codec.encode(event)) == event
    assert codec.writer_of(V1_TASK).current is False
