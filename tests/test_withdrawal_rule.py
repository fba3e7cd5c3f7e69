"""Who is told of a consent withdrawal, in general: exactly the recipients that hold data they
received under the withdrawn data use or a narrower one; none under other uses, never our own
systems, never the holder the withdrawal came from."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from lineage.rules.subject import SubjectState
from lineage.services.erasure.plan import plan_withdrawal
from lineage.services.whohas import Subject
from tests.companies import generate
from tests.conftest import Lineage

USES = [
    "marketing",
    "marketing.advertising",
    "marketing.advertising.first_party",
    "marketing.communications",
    "marketing.communications.email",
    "marketing.communications.sms",
    "essential",
    "essential.service",
    "essential.service.operations",
    "analytics",
    "analytics.reporting",
    "functional.storage",
]
T0 = datetime(2024, 1, 1, tzinfo=UTC)

receipt = st.tuples(
    st.sampled_from(["user.name", "user.contact.email", "user.contact.phone_number"]),
    st.sampled_from(USES),
    st.sampled_from(["consent", "contract", "legitimate_interests"]),
)
holder = st.tuples(st.booleans(), st.lists(receipt, min_size=0, max_size=4))
holders = st.dictionaries(st.sampled_from([f"h{i}" for i in range(8)]), holder, max_size=8)


def under(use: str, withdrawn: str) -> bool:
    """The oracle, written apart from the rulebook: the same key or a dotted descendant."""
    return use == withdrawn or use.startswith(withdrawn + ".")


@settings(max_examples=300, deadline=None)
@given(holders, st.sampled_from(USES), st.sets(st.sampled_from([f"h{i}" for i in range(8)])))
def test_notified_set_is_exactly_the_recipients_under_covered_uses(
    generated: dict[str, tuple[bool, list[tuple[str, str, str]]]],
    withdrawn: str,
    reporters: set[str],
) -> None:
    state = SubjectState(["ref"])
    for n, (name, (own, receipts)) in enumerate(sorted(generated.items())):
        h = state.holding(name)
        h.own = own
        h.role = "controller" if own else "processor"
        for category, use, basis in receipts:
            h.receive([category], T0 + timedelta(minutes=n), use, basis, None)
    s = Subject(state, {}, T0 + timedelta(days=1), None)
    tasks = plan_withdrawal(s, withdrawn, frozenset(reporters))
    expected = {
        name
        for name, (own, receipts) in generated.items()
        if not own and name not in reporters and any(under(u, withdrawn) for _, u, _ in receipts)
    }
    assert {t.holder for t in tasks} == expected
    for t in tasks:
        own, receipts = generated[t.holder]
        assert set(t.categories) == {c for c, u, _ in receipts if under(u, withdrawn)}
        assert t.action == "notify"


@pytest.mark.parametrize("seed", [5, 41])
def test_every_generated_withdrawal_is_told_to_its_recipients_once(
    lineage: Lineage, seed: int
) -> None:
    c = generate(seed, subjects=25)
    catalog = lineage.home / "lineage.yaml"
    catalog.write_text(yaml.safe_dump(c.catalog, sort_keys=False))
    assert lineage.emit(c.events).exit_code == 0
    withdrawals = [e for e in c.events if e["event_type"] == "ConsentWithdrawn"]
    assert withdrawals, "the generator withdraws some consents"
    opened = lineage.json("consent", "notices", "--retries", "1")["opened"]
    assert 0 < len(opened) <= len(withdrawals)
    own = {n for n, h in c.catalog["holders"].items() if h["role"] == "own"}
    told = 0
    for req in opened:
        who: dict[str, Any] = lineage.json("who-has", req["subject"])
        expected = {
            h["holder"]
            for h in who["holders"]
            if h["categories"]
            and h["holder"] not in own
            and any(p["purpose"] and under(p["purpose"], req["purpose"]) for p in h["purposes"])
        }
        assert {t["holder"] for t in req["tasks"]} == expected, req["request_id"]
        told += len(expected)
    assert told, "some withdrawal reached a recipient"
    assert lineage.json("consent", "notices") == {"opened": []}
    requests = lineage.json("erasure", "status")["requests"]
    ids = [q["withdrawal_id"] for q in requests if q["kind"] == "withdrawal"]
    assert len(ids) == len(set(ids)) == len(opened), "one request per withdrawal"
