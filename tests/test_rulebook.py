"""The rulebook's general rules, tested in general (hypothesis over the fideslang taxonomy):
a declared data use or category covers its descendants; retention is reckoned per category
and purpose, never per holder."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lineage.events.taxonomy import default_taxonomy, special_category
from lineage.rules.consent import Consent
from lineage.rules.taxonomy import covers
from tests.conftest import Lineage

TAX = default_taxonomy()


def _with_descendants(keys: frozenset[str]) -> list[tuple[str, str]]:
    """(ancestor, descendant-or-self) pairs of the taxonomy."""
    return sorted((a, d) for a in keys for d in keys if covers(a, d))


USE_PAIRS = [p for p in _with_descendants(TAX.uses) if p[0] != p[1] and "." in p[0]]
CATEGORY_PAIRS = [
    p
    for p in _with_descendants(TAX.categories)
    if p[0].startswith("user.") and "." in p[0] and not special_category(p[1])
]
SPECIAL = sorted(c for c in TAX.categories if special_category(c) == "art9")
ORDINARY = sorted(
    c for c in TAX.categories if c.startswith("user.contact.") and not special_category(c)
)
SETTINGS = settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _home(factory: pytest.TempPathFactory) -> Lineage:
    lineage = Lineage(factory.mktemp("rulebook") / "home")
    lineage.ok("init")
    return lineage


def _catalog(lineage: Lineage, purposes: dict[str, Any]) -> str:
    doc = {
        "version": 1,
        "controller": {"name": "Generated A/S", "country": "DK"},
        "holders": {
            "sys": {"role": "own", "country": "DK"},
            "proc": {"role": "processor", "country": "DK", "dpa_signed": "2015-01-01"},
        },
        "purposes": purposes,
    }
    path = lineage.home.parent / "lineage.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return str(path)


def _ev(kind: str, at: str, **fields: Any) -> dict[str, Any]:
    return {"event_type": kind, "occurred_at": at, "source": "test",
            "subject": {"email": "p@example.com"}, **fields}  # fmt: skip


def _audit(lineage: Lineage, catalog: str, as_of: str) -> list[dict[str, Any]]:
    result = lineage("audit", "--catalog", catalog, "--as-of", as_of, "--format", "json")
    return json.loads(result.stdout)["findings"]  # type: ignore[no-any-return]


@SETTINGS
@given(
    uses=st.sampled_from(USE_PAIRS),
    cats=st.sampled_from(CATEGORY_PAIRS),
    years=st.integers(1, 9),
    day=st.integers(1, 28),
)
def test_a_declared_use_and_category_cover_their_descendants(
    tmp_path_factory: pytest.TempPathFactory,
    uses: tuple[str, str],
    cats: tuple[str, str],
    years: int,
    day: int,
) -> None:
    (declared_use, use), (declared_cat, cat) = uses, cats
    lineage = _home(tmp_path_factory)
    catalog = _catalog(
        lineage,
        {
            "p": {
                "name": "Declared for the ancestor",
                "data_use": declared_use,
                "legal_basis": "contract",
                "data_subjects": ["customer"],
                "categories": [declared_cat],
                "retention": f"P{years}Y from collection",
                "systems": ["sys"],
                "recipients": ["proc"],
            }
        },
    )
    at = f"2015-03-{day:02d}T10:00:00Z"
    lineage.emit([
        _ev("DataCollected", at, system="sys", purpose=use, legal_basis="contract",
            categories=[cat], data_subject="customer"),
        _ev("DataShared", at, from_holder="sys", recipient="proc", recipient_role="processor",
            recipient_country="DK", purpose=use, legal_basis="contract", categories=[cat]),
    ])  # fmt: skip
    as_of = "2015-06-01T00:00:00Z"
    rules = {f["rule"] for f in _audit(lineage, catalog, as_of)}
    assert not rules & {"undeclared-purpose", "undeclared-recipient", "undeclared-category",
                        "recipient-never-observed"}, rules  # fmt: skip
    answer = lineage.json("who-has", "p@example.com", "--catalog", catalog, "--as-of", as_of)
    for h in answer["holders"]:
        assert h["retain_until"] == f"{2015 + years}-03-{day:02d}T10:00:00Z"
        assert h["retention"][0]["catalog_purposes"] == ["p"]
    # A sibling outside the declared use is not covered.
    outside = next(u for u in sorted(TAX.uses) if not covers(declared_use, u) and "." in u)
    lineage.emit([_ev("DataCollected", "2015-04-01T00:00:00Z", system="sys", purpose=outside,
                      legal_basis="contract", categories=[cat], data_subject="customer")],
                 name="outside.jsonl")  # fmt: skip
    rules = {f["rule"] for f in _audit(lineage, catalog, as_of)}
    assert "undeclared-purpose" in rules


@SETTINGS
@given(
    special=st.sampled_from(SPECIAL),
    ordinary=st.sampled_from(ORDINARY),
    short=st.integers(1, 4),
    extra=st.integers(1, 6),
)
def test_retention_is_per_category_and_purpose(
    tmp_path_factory: pytest.TempPathFactory, special: str, ordinary: str, short: int, extra: int
) -> None:
    """Special-category data under a short purpose is overdue while ordinary data at the same
    holder under a long legal obligation is not (Art. 5(1)(e))."""
    long = short + extra
    lineage = _home(tmp_path_factory)
    catalog = _catalog(
        lineage,
        {
            "care": {
                "name": "Care",
                "data_use": "essential.service",
                "legal_basis": "contract",
                "art9_condition": "explicit_consent",
                "data_subjects": ["customer"],
                "categories": [special, ordinary],
                "retention": f"P{short}Y from collection",
                "systems": ["sys"],
            },
            "books": {
                "name": "Bookkeeping",
                "data_use": "essential.legal_obligation",
                "legal_basis": "legal_obligation",
                "data_subjects": ["customer"],
                "categories": [ordinary],
                "retention": f"P{long}Y from collection",
                "systems": ["sys"],
            },
        },
    )
    lineage.emit([
        _ev("DataCollected", "2016-05-10T00:00:00Z", system="sys", purpose="essential.service",
            legal_basis="contract", categories=[special, ordinary], data_subject="customer"),
        _ev("DataCollected", "2016-05-10T00:00:00Z", system="sys",
            purpose="essential.legal_obligation", legal_basis="legal_obligation",
            categories=[ordinary], data_subject="customer"),
    ])  # fmt: skip
    between = f"{2016 + short}-09-01T00:00:00Z"
    answer = lineage.json("who-has", "p@example.com", "--catalog", catalog, "--as-of", between)
    (h,) = answer["holders"]
    by = {c["category"]: c for c in h["retention_by_category"]}
    assert by[special]["overdue"] and by[special]["retain_until"].startswith(str(2016 + short))
    assert not by[ordinary]["overdue"]
    assert by[ordinary]["retain_until"].startswith(str(2016 + long))
    assert h["status"] == "overdue" and h["overdue_categories"] == [special]
    assert h["retain_until"].startswith(str(2016 + long)), "the holder: its latest category"
    (finding,) = [f for f in _audit(lineage, catalog, between) if f["rule"] == "retention-overdue"]
    assert finding["holder"] == "sys"
    assert finding["evidence"]["categories"] == [special]
    assert finding["evidence"]["special_categories"] == [special]
    before = f"{2016 + short}-01-01T00:00:00Z"
    assert not [f for f in _audit(lineage, catalog, before) if f["rule"] == "retention-overdue"]


@given(
    steps=st.lists(
        st.tuples(st.sampled_from(sorted(u for u in TAX.uses if u.startswith("marketing"))),
                  st.booleans()),
        max_size=8,
    ),
    asked=st.sampled_from(sorted(u for u in TAX.uses if u.startswith("marketing"))),
)  # fmt: skip
def test_consent_the_latest_covering_event_decides(
    steps: list[tuple[str, bool]], asked: str
) -> None:
    consent = Consent()
    expected = None
    for i, (purpose, gives) in enumerate(steps):
        at = datetime(2020, 1, 1 + i, tzinfo=UTC)
        consent.record(at, purpose, gives)
        if covers(purpose, asked):
            expected = None if gives else at
    assert consent.withdrawn_at(asked) == expected
