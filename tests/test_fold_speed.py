"""The fold of marked components takes shortcuts that must not change an answer: times read
from Arrow as integers, the cyclic GC paused while folding (and left as it was found), the
catalog's purpose matching handed out without a copy, and the kept JSON lists of a
category's uses and purposes built once per combination. Each is checked against the plain
definition it replaces, on generated values and generated companies."""

from __future__ import annotations

import gc
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lineage.catalog.loader import load_catalog
from lineage.config import resolve
from lineage.projection.store import arrow_rows
from lineage.services.app import App
from lineage.services.company import EVER, _texts, company, summarize
from lineage.timeutil import parse_time
from tests.companies import AS_OF_TIMES, generate
from tests.conftest import Lineage

times = st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59))


@given(st.lists(st.none() | times, max_size=40))
def test_times_read_as_integers_are_arrows_own_times_made_aware(
    values: list[datetime | None],
) -> None:
    """Every naive microsecond time (year 1 to 9999, before and after the epoch, NULLs)
    comes out of ``arrow_rows`` as Arrow's own conversion made aware in UTC."""
    table = pa.table({"at": pa.array(values, type=pa.timestamp("us")), "n": range(len(values))})
    got = [row.at for row in arrow_rows(table)]
    assert got == [None if v is None else v.replace(tzinfo=UTC) for v in values]
    assert all(v is None or v.tzinfo is UTC for v in got)


def test_times_in_other_units_take_arrows_own_conversion() -> None:
    values = [datetime(2024, 2, 29, 23, 59, 59, 123000), None, datetime(1969, 12, 31)]
    for unit in ("s", "ms", "ns"):
        kept = [v.replace(microsecond=0) if v and unit == "s" else v for v in values]
        table = pa.table({"at": pa.array(kept, type=pa.timestamp(unit))})
        got = [row.at for row in arrow_rows(table)]
        assert got == [None if v is None else v.replace(tzinfo=UTC) for v in kept]


@given(
    st.lists(
        st.tuples(
            st.none() | st.sampled_from(["marketing", "essential.service", "(none)"]),
            st.lists(st.sampled_from(["p1", "p2", "p3"]), max_size=3).map(tuple),
        ),
        min_size=1,
        max_size=6,
    )
)
def test_kept_uses_and_purposes_are_the_sorted_json_lists(
    receipts: list[tuple[str | None, tuple[str, ...]]],
) -> None:
    uses, pids = _texts(tuple(receipts))
    assert json.loads(uses) == sorted({use or "(none)" for use, _ in receipts})
    assert json.loads(pids) == sorted({p for _, ps in receipts for p in ps})


def _catalog(tmp_path: Path, seed: int) -> Any:
    path = tmp_path / f"lineage-{seed}.yaml"
    path.write_text(yaml.safe_dump(generate(seed, subjects=0).catalog, sort_keys=False))
    return load_catalog(path)


def _uses(catalog: Any) -> Iterator[str | None]:
    """Every purpose's data use, its parents and a child of it, a purpose id, nothing."""
    yield None
    for pid, p in catalog.purposes.items():
        yield pid
        parts = p.data_use.split(".")
        for i in range(1, len(parts) + 1):
            yield ".".join(parts[:i])
        yield p.data_use + ".sub"


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(seed=st.integers(0, 10_000))
def test_purpose_ids_are_purposes_for(tmp_path: Path, seed: int) -> None:
    """The tuple the fold uses is the one matching rule's answer, for every use, holder,
    category and basis of a generated catalog (asked in both orders: one cache)."""
    catalog = _catalog(tmp_path, seed)
    holders = [None, *catalog.holders]
    categories = [None, *sorted({c for p in catalog.purposes.values() for c in p.categories})]
    bases = [None, *sorted({p.legal_basis for p in catalog.purposes.values()})]
    for use in _uses(catalog):
        for holder in holders:
            for category in categories[:4]:
                for basis in bases:
                    ids = catalog.purpose_ids(use, holder, category, basis)
                    assert isinstance(ids, tuple)
                    assert list(ids) == catalog.purposes_for(use, holder, category, basis)
    fresh = _catalog(tmp_path, seed)
    for use in _uses(fresh):
        for holder in holders:
            assert list(fresh.purpose_ids(use, holder)) == fresh.purposes_for(use, holder)


@pytest.fixture
def company_home(tmp_path: Path) -> tuple[App, Any]:
    c = generate(17, subjects=40)
    lineage = Lineage(tmp_path / "home")
    lineage.ok("init")
    path = tmp_path / "lineage.yaml"
    path.write_text(yaml.safe_dump(c.catalog, sort_keys=False))
    assert lineage.emit(c.events).exit_code == 0
    return App(resolve(lineage.home)), load_catalog(path)


def _answer(c: Any) -> list[Any]:
    return [c.subjects, c.overdue, c.transfers, c.consent]


@pytest.mark.parametrize("enabled", [True, False])
def test_the_fold_runs_with_the_gc_paused_and_leaves_it_as_found(
    company_home: tuple[App, Any], enabled: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every component is folded with the cyclic GC off (its objects hold no cycles); after
    the audit's sums the GC is on or off as it was, and the answer is a fold's."""
    from lineage.rules import subject
    from lineage.services import subjects

    app, catalog = company_home
    as_of = parse_time(AS_OF_TIMES[-1])
    states: list[bool] = []

    def fold(*args: Any, **kwargs: Any) -> Any:
        states.append(gc.isenabled())
        return subject.fold(*args, **kwargs)

    with app.store() as store:
        app.catch_up(store)
        expected = _answer(company(store, as_of, catalog, keep=False))
        monkeypatch.setattr(subjects, "fold", fold)
        if not enabled:
            gc.disable()
        try:
            kept = company(store, as_of, catalog)  # the first: folds and keeps every component
            after_kept = gc.isenabled()
            again = summarize(store, EVER, catalog, workers=0)
            after_summarize = gc.isenabled()
        finally:
            gc.enable()
    assert states and not any(states)
    assert after_kept is enabled and after_summarize is enabled
    assert kept.stored > 0 and again.size() == kept.stored
    assert _answer(kept) == expected


def test_a_late_time_is_read_back_exactly() -> None:
    """Times next to the calendar's end and the epoch survive the integer path unchanged
    (a summary's ``latest`` and a fold's event times are read this way)."""
    values = [
        EVER.replace(tzinfo=None),
        datetime(1970, 1, 1),
        datetime(1970, 1, 1) - timedelta(microseconds=1),
    ]
    table = pa.table({"at": pa.array(values, type=pa.timestamp("us"))})
    assert [r.at for r in arrow_rows(table)] == [v.replace(tzinfo=UTC) for v in values]
