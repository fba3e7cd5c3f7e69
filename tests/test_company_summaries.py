"""Kept per-component summaries (``services.company``): after any sequence of appends (new
subjects, new events of old subjects, identity links merging components, erasures and
forgetting, catalog edits) the audit from kept summaries is the audit of every subject
folded now, and agrees with who-has subject by subject. The fallbacks (a time asked before
a component's latest event, a changed catalog, a reader that may not write) fold instead of
serving a stale summary; a failure between fold and store, or a writer committing
meanwhile, leaves nothing that claims to reflect events it did not fold."""

from __future__ import annotations

import itertools
import json
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest
import yaml
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from lineage.catalog.loader import load_catalog
from lineage.config import resolve
from lineage.services.app import App
from lineage.services.audit import audit
from lineage.services.company import company, refresh, waiting
from lineage.services.whohas import identity_component, who_has
from lineage.timeutil import parse_time
from tests.companies import AS_OF_TIMES, generate
from tests.conftest import Lineage, collected

NOW = datetime(2026, 11, 1, tzinfo=UTC)
TIMES = [parse_time(t) for t in AS_OF_TIMES]


def _findings(found: list[Any]) -> list[str]:
    # Findings that tie on (severity, rule, holder, purpose) may come in any order.
    return sorted(json.dumps(f.to_json(), sort_keys=True, default=str) for f in found)


def _home(root: Path, catalog: dict[str, Any]) -> tuple[Lineage, Path]:
    lineage = Lineage(root / "home")
    lineage.ok("init")
    path = root / "lineage.yaml"
    path.write_text(yaml.safe_dump(catalog, sort_keys=False))
    return lineage, path


def _catalog(path: Path) -> Any:
    return load_catalog(path)


def _app(lineage: Lineage) -> App:
    return App(resolve(lineage.home))


def _kept(store: Any) -> dict[str, int]:
    return {
        name: store.con.execute(f"SELECT count(*) FROM {name}").fetchall()[0][0]
        for name in ("summary_comps", "summary_ends", "summary_moves", "dirty_refs")
    }


def _edited(catalog: dict[str, Any], k: int) -> dict[str, Any]:
    """The catalog with purposes' retention shortened (a different answer, same holders)."""
    out = json.loads(json.dumps(catalog))
    for i, p in enumerate(sorted(out["purposes"])):
        if (i + k) % 2 == 0 and "consent" not in str(out["purposes"][p].get("retention")):
            out["purposes"][p]["retention"] = "P1Y from collection"
    return out


def _overdue_by_who_has(store: Any, app: App, catalog: Any, emails: list[str]) -> Counter[str]:
    """Subjects per holder with overdue categories, asked subject by subject."""
    seen: set[tuple[str, ...]] = set()
    out: Counter[str] = Counter()
    for email in emails:
        refs = app.refs_for([("email", email)])
        key = tuple(identity_component(store, refs, NOW))
        if key in seen:  # merged with an earlier subject
            continue
        seen.add(key)
        answer = who_has(store, refs, NOW, catalog)
        for h in answer["holders"]:
            if h["overdue_categories"]:
                out[h["holder"]] += 1
    return out


def _merging(c: Any, n: int) -> list[dict[str, Any]]:
    """Events that link subjects recorded apart: one subject's collection again, naming
    another subject's phone as well (their components merge)."""
    phones = [(e, p[0]) for e, p in c.linked.items()]
    out = []
    for k in range(min(n, len(phones))):
        email, phone = phones[k]
        other = next(e for e in reversed(c.emails) if e != email)
        first = next(
            e
            for e in c.events
            if e["event_type"] == "DataCollected" and e["subject"].get("email") == other
        )
        out.append({**first, "subject": {"email": other, "phone": phone}})
    return out


@settings(
    max_examples=6,
    deadline=None,
    # Each example projects a company several times: report a failure as found.
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    seed=st.integers(0, 10_000),
    cuts=st.lists(st.floats(0.05, 0.95), min_size=1, max_size=3),
    edit_at=st.one_of(st.none(), st.integers(0, 3)),
    shuffle=st.booleans(),
    merges=st.integers(0, 2),
)
def test_kept_summaries_equal_a_fold_of_every_subject(
    tmp_path_factory: pytest.TempPathFactory,
    seed: int,
    cuts: list[float],
    edit_at: int | None,
    shuffle: bool,
    merges: int,
) -> None:
    c = generate(seed, subjects=16)
    root = tmp_path_factory.mktemp("company")
    lineage, path = _home(root, c.catalog)
    events = list(c.events)
    if shuffle:  # old subjects' events arrive after new subjects'
        events = events[1::2] + events[::2]
    events += _merging(c, merges)
    bounds = [0, *sorted({int(len(events) * x) for x in cuts}), len(events)]
    app = _app(lineage)
    for step, (a, b) in enumerate(itertools.pairwise(bounds)):
        assert lineage.emit(events[a:b], name=f"part{step}.jsonl").exit_code == 0
        if edit_at == step:
            path.write_text(yaml.safe_dump(_edited(c.catalog, seed), sort_keys=False))
        catalog = _catalog(path)
        with app.store() as store:
            app.catch_up(store)
            for as_of in (NOW, TIMES[step % len(TIMES)]):
                kept = audit(catalog, store, as_of)
                assert _findings(kept) == _findings(audit(catalog, store, as_of, keep=False))
            assert _kept(store)["dirty_refs"] == 0
    with app.store() as store:
        sums = company(store, NOW, catalog)
        assert sums.folded == 0 or sums.kept > 0  # the kept summaries answered
        by_holder = {h: o.subjects for h, o in sums.overdue.items()}
        assert by_holder == dict(_overdue_by_who_has(store, app, catalog, c.emails))


@pytest.fixture
def company_home(tmp_path: Path) -> tuple[Lineage, Path, Any]:
    c = generate(23, subjects=20)
    lineage, path = _home(tmp_path, c.catalog)
    assert lineage.emit(c.events).exit_code == 0
    return lineage, path, c


def test_first_audit_keeps_the_summaries_and_the_next_folds_only_what_changed(
    company_home: tuple[Lineage, Path, Any],
) -> None:
    lineage, path, _ = company_home
    app, catalog = _app(lineage), _catalog(path)
    with app.store() as store:
        app.catch_up(store)
        assert _kept(store)["dirty_refs"] > 0  # every batch marks what it touched
        first = company(store, NOW, catalog)
        assert first.stored == first.subjects > 0 and first.folded == 0
        again = company(store, NOW, catalog)
        assert again.stored == 0 and again.kept == again.subjects
    lineage.ok("emit", "--file", str(_write(path.parent, [collected("new@example.com")])))
    with app.store() as store:
        app.catch_up(store)
        assert _kept(store)["dirty_refs"] == 1
        after = company(store, NOW, catalog)
        assert after.stored == 1 and after.subjects == first.subjects + 1
        assert _findings(audit(catalog, store, NOW)) == _findings(
            audit(catalog, store, NOW, keep=False)
        )


def _write(folder: Path, events: list[dict[str, Any]]) -> Path:
    path = folder / "more.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in events))
    return path


def test_a_time_before_a_components_latest_event_folds_it_then(
    company_home: tuple[Lineage, Path, Any],
) -> None:
    lineage, path, _ = company_home
    app, catalog = _app(lineage), _catalog(path)
    with app.store() as store:
        app.catch_up(store)
        now = company(store, NOW, catalog)
        kept = _kept(store)
        for as_of in TIMES[:2]:  # before the last events
            past = company(store, as_of, catalog)
            # Components with later events or links are not taken from storage.
            assert past.kept < now.kept
            assert _findings(audit(catalog, store, as_of)) == _findings(
                audit(catalog, store, as_of, keep=False)
            )
        assert _kept(store) == kept  # folds as of the past are not stored


def test_a_changed_catalog_folds_every_component_again(
    company_home: tuple[Lineage, Path, Any],
) -> None:
    lineage, path, c = company_home
    app = _app(lineage)
    with app.store() as store:
        app.catch_up(store)
        before = audit(_catalog(path), store, NOW)
        path.write_text(yaml.safe_dump(_edited(c.catalog, 0), sort_keys=False))
        edited = _catalog(path)
        sums = company(store, NOW, edited)
        assert sums.stored == sums.subjects  # nothing from the other catalog's summaries
        after = audit(edited, store, NOW)
        assert _findings(after) == _findings(audit(edited, store, NOW, keep=False))
        assert _findings(after) != _findings(before)  # the edit changed the answer


class Interrupted(Exception):
    pass


def test_a_failure_between_fold_and_store_leaves_the_marks(
    company_home: tuple[Lineage, Path, Any],
) -> None:
    lineage, path, _ = company_home
    app, catalog = _app(lineage), _catalog(path)
    lineage.ok("emit", "--file", str(_write(path.parent, [collected("late@example.com")])))
    with app.store() as store:
        app.catch_up(store)
        company(store, NOW, catalog)
        assert _kept(store)["dirty_refs"] == 0
    lineage.ok("emit", "--file", str(_write(path.parent, [collected("later@example.com")])))
    with app.store() as store:
        app.catch_up(store)
        kept = _kept(store)
        assert kept["dirty_refs"] == 1

        def fail() -> None:
            raise Interrupted

        with pytest.raises(Interrupted):
            refresh(store, catalog, before_store=fail)
        assert _kept(store) == kept  # nothing stored, the mark still there
        assert _findings(audit(catalog, store, NOW)) == _findings(
            audit(catalog, store, NOW, keep=False)
        )


def test_a_batch_committed_while_summaries_are_folded_stays_marked(
    company_home: tuple[Lineage, Path, Any],
) -> None:
    """A writer commits events of a kept component between the fold and the store: the
    stored summary does not reflect them, so their mark must survive the store."""
    lineage, path, c = company_home
    app, catalog = _app(lineage), _catalog(path)
    with app.store() as store:
        app.catch_up(store)
        company(store, NOW, catalog)
    old = c.emails[0]
    lineage.ok("emit", "--file", str(_write(path.parent, [collected("new@example.com")])))
    more = _write(path.parent.parent, [collected(old, system="crm-late")])
    assert Lineage(lineage.home)("emit", "--file", str(more)).exit_code == 0
    with app.store() as store:
        # Project only the first append; the second is projected mid-refresh.
        app.projector(store).run(limit=1)
        ref = app.refs_for([("email", old)])[0]

        def writer() -> None:
            from lineage.projection.store import Store

            other = Store.over(store.con.cursor(), store.path)
            other.read_only = False
            app.projector(other, verify=False).run()

        _, current = refresh(store, catalog, before_store=writer)
        marked = {r for (r,) in store.con.execute("SELECT ref FROM dirty_refs").fetchall()}
        # Stored (the writer's rows do not conflict with the store), and the writer's
        # reference is still marked: its component is folded again before use.
        assert current and ref in marked
        assert _findings(audit(catalog, store, NOW)) == _findings(
            audit(catalog, store, NOW, keep=False)
        )
        assert any(
            h["holder"] == "crm-late" for h in who_has(store, [ref], NOW, catalog)["holders"]
        )


def test_a_reader_that_may_not_write_answers_without_storing(
    company_home: tuple[Lineage, Path, Any],
) -> None:
    lineage, path, _ = company_home
    app, catalog = _app(lineage), _catalog(path)
    with app.store() as store:
        app.catch_up(store)
        company(store, NOW, catalog)
    lineage.ok("emit", "--file", str(_write(path.parent, [collected("new@example.com")])))
    with app.store() as store:
        app.catch_up(store)  # projected and marked, not folded
        expected = _findings(audit(catalog, store, NOW, keep=False))
    from lineage.projection.store import Store

    reader = Store(app.settings.projection_path, read_only=True)
    try:
        kept = _kept(reader)
        sums = company(reader, NOW, catalog)
        assert sums.stored == 0 and sums.folded >= 1 and sums.kept > 0
        assert _findings(audit(catalog, reader, NOW)) == expected
        assert _kept(reader) == kept
    finally:
        reader.close()


def test_lineage_audit_as_a_process_matches_the_fold(
    company_home: tuple[Lineage, Path, Any],
) -> None:
    lineage, path, _ = company_home
    args = ("audit", "--format", "json", "--catalog", str(path), "--as-of", "2026-11-01")
    first = lineage.process(*args)
    assert first.returncode in (0, 1), first.stderr
    second = lineage.process(*args)
    assert json.loads(second.stdout) == json.loads(first.stdout)
    app = _app(lineage)
    with app.store() as store:
        assert _kept(store)["summary_comps"] > 0  # the first process kept them
        scratch = audit(_catalog(path), store, NOW, keep=False)
    assert sorted(json.dumps(f, sort_keys=True) for f in json.loads(second.stdout)["findings"]) == (
        _findings(scratch)
    )


def test_an_older_projection_is_migrated_with_no_summaries(tmp_path: Path) -> None:
    lineage, path = _home(tmp_path, generate(5, subjects=4).catalog)
    assert lineage.emit(generate(5, subjects=4).events).exit_code == 0
    lineage.ok("project")
    db = lineage.home / "projection.duckdb"
    con = duckdb.connect(str(db))
    for name in ("summary_comps", "summary_ends", "summary_moves", "summary_breaches"):
        con.execute(f"DROP TABLE {name}")
    con.execute("DROP TABLE dirty_refs")
    con.execute("UPDATE meta SET value = '4' WHERE key = 'schema_version'")
    con.close()
    app, catalog = _app(lineage), _catalog(path)
    with app.store() as store:
        sums = company(store, NOW, catalog)
        assert sums.stored == sums.subjects > 0
        assert _findings(audit(catalog, store, NOW)) == _findings(
            audit(catalog, store, NOW, keep=False)
        )


def test_a_schema_6_projection_gets_keyed_summaries_folded_again(tmp_path: Path) -> None:
    """Summaries kept before the integer keys (schema 6, rows by text only) are dropped by
    the migration and folded again: the answers are a fold of every subject's."""
    from lineage.projection.queries import statements
    from lineage.services.company import TABLES

    lineage, path = _home(tmp_path, generate(7, subjects=6).catalog)
    assert lineage.emit(generate(7, subjects=6).events).exit_code == 0
    lineage.ok("project")
    app, catalog = _app(lineage), _catalog(path)
    with app.store() as store:
        assert company(store, NOW, catalog).stored > 0
    con = duckdb.connect(str(lineage.home / "projection.duckdb"))
    for name in TABLES:  # the schema 6 tables, with the rows kept
        con.execute(f"ALTER TABLE summary_{name} RENAME TO old_{name}")
    for stmt in statements("migrate_5"):
        if "summary_" in stmt:
            con.execute(stmt)
    for name in TABLES:
        keys = "ck, rk" if name == "refs" else "ck"
        con.execute(f"INSERT INTO summary_{name} SELECT * EXCLUDE ({keys}) FROM old_{name}")
        con.execute(f"DROP TABLE old_{name}")
    con.execute("UPDATE meta SET value = '6' WHERE key = 'schema_version'")
    con.close()
    with app.store() as store:
        sums = company(store, NOW, catalog)
        assert sums.stored == sums.subjects > 0
        assert store.con.execute("SELECT count(*) FROM summary_comps").fetchone() == (
            sums.subjects,
        )
        assert _findings(audit(catalog, store, NOW)) == _findings(
            audit(catalog, store, NOW, keep=False)
        )


def _rows(s: Any) -> dict[str, list[str]]:
    return {name: sorted(map(repr, t.to_pylist())) for name, t in s.tables().items()}


@pytest.mark.parametrize("seed", [3, 41])
def test_a_fold_in_worker_processes_is_the_fold_here(
    tmp_path: Path, seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every component's summaries folded by worker processes (events read range by range
    of references and handed over in chunks cut between references; linked references
    read again, range of components by range, and handed over whole components at a time)
    are the summaries folded in this process, at every time asked, whatever the chunk size
    and the ranges."""
    from lineage.services import company as company_module
    from lineage.services.company import EVER, Summaries, _summarize_in_workers, summarize

    c = generate(seed, subjects=24)
    lineage, path = _home(tmp_path, c.catalog)
    assert lineage.emit([*c.events, *_merging(c, 2)]).exit_code == 0
    app, catalog = _app(lineage), _catalog(path)
    with app.store() as store:
        app.catch_up(store)
        linked = store.con.execute("SELECT count(*) FROM identity_links").fetchall()[0][0]
        assert linked > 0  # some references are folded as components
        events = store.con.execute("SELECT count(*) FROM events").fetchall()[0][0]
        cases = ((EVER, 1, events), (EVER, 5, 7), (NOW, 64, 20), (TIMES[0], 3, 1))
        for as_of, chunk, per_range in cases:
            monkeypatch.setattr(company_module, "READ_RANGE_EVENTS", per_range)
            here = summarize(store, as_of, catalog, workers=0)
            there = Summaries()
            assert _summarize_in_workers(store, as_of, catalog, 2, chunk, there.merge)
            assert there.parts  # the workers folded some
            assert not there.comps  # and every one: none here, components included
            assert there.size() == here.size() > 0
            assert _rows(there) == _rows(here)


def test_reference_ranges_hold_every_reference_once_in_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whatever the number of ranges asked for, they follow each other from an open start to
    an open end, and every reference lies in exactly one of them."""
    from itertools import pairwise

    from lineage.services import company as company_module
    from lineage.services.company import ref_ranges

    monkeypatch.setattr(company_module, "READ_RANGE_EVENTS", 10)
    c = generate(7, subjects=30)
    lineage, _ = _home(tmp_path, c.catalog)
    assert lineage.emit(c.events).exit_code == 0
    app = _app(lineage)
    with app.store() as store:
        app.catch_up(store)
        refs = [
            r for (r,) in store.con.execute("SELECT DISTINCT subject_ref FROM events").fetchall()
        ]
        events = store.con.execute("SELECT count(*) FROM events").fetchall()[0][0]
        assert ref_ranges(store, 0) == ref_ranges(store, 1) == [(None, None)]
        for events_asked in (25, events, 100 * events):
            ranges = ref_ranges(store, events_asked)
            assert ranges[0][0] is None and ranges[-1][1] is None
            assert all(a[1] == b[0] is not None for a, b in pairwise(ranges))
            for ref in refs:
                inside = [
                    (lo, hi)
                    for lo, hi in ranges
                    if (lo is None or ref >= lo) and (hi is None or ref < hi)
                ]
                assert len(inside) == 1
        assert 1 < len(ref_ranges(store, 25)) < len(ref_ranges(store, events))


def test_audit_with_worker_processes_equals_the_audit_here(
    company_home: tuple[Lineage, Path, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first audit after a rebuild (every component folded and kept) gives the same
    findings and kept summaries whether the fold ran in worker processes or here."""
    from lineage.services import company as company_module

    lineage, path, _ = company_home
    app, catalog = _app(lineage), _catalog(path)
    results = []
    for threshold in (10**12, 1):  # here; then in workers (any projection is big enough)
        monkeypatch.setattr(company_module, "PARALLEL_EVENTS", threshold)
        monkeypatch.setattr(company_module, "_cpus", lambda: 2)
        with app.store() as store:
            app.catch_up(store)
            store.set_meta("summary_fingerprint", "-")  # fold every component again
            found = _findings(audit(catalog, store, NOW))
            kept = {
                name: sorted(
                    map(repr, store.con.execute(f"SELECT * FROM summary_{name}").fetchall())
                )
                for name in ("comps", "holdings", "ends", "moves", "breaches")
            }
            results.append((found, kept))
    assert results[0] == results[1]


class _NoProcesses:
    """A process pool where processes cannot be started (a script without a main guard)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __enter__(self) -> _NoProcesses:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def submit(self, *args: Any) -> Any:
        raise OSError("no processes here")


def test_without_worker_processes_the_fold_runs_here(
    company_home: tuple[Lineage, Path, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where processes cannot be started (mid-read here), the fold runs in this process,
    on the same connection, with the same summaries."""
    import concurrent.futures

    from lineage.services.company import EVER, summarize

    lineage, path, _ = company_home
    app, catalog = _app(lineage), _catalog(path)
    with app.store() as store:
        app.catch_up(store)
        here = summarize(store, EVER, catalog, workers=0)
        monkeypatch.setattr(concurrent.futures, "ProcessPoolExecutor", _NoProcesses)
        fallback = summarize(store, EVER, catalog, workers=2)
        assert not fallback.parts and fallback.size() == here.size() > 0
        assert _rows(fallback) == _rows(here)


def test_the_first_audit_without_worker_processes_folds_here(
    company_home: tuple[Lineage, Path, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first fold, stored piece by piece, falls back to this process too when
    processes cannot be started: the failed read leaves no open result on the connection,
    and the kept summaries answer as the fold of every subject."""
    import concurrent.futures

    from lineage.services import company as company_module

    lineage, path, _ = company_home
    app, catalog = _app(lineage), _catalog(path)
    with app.store() as store:
        app.catch_up(store)
        monkeypatch.setattr(concurrent.futures, "ProcessPoolExecutor", _NoProcesses)
        monkeypatch.setattr(company_module, "_workers", lambda store: 2)
        stored, current = refresh(store, catalog)
        assert current and stored == _kept(store)["summary_comps"] > 0
        folded = [_findings(audit(catalog, store, t, keep=False)) for t in (NOW, *TIMES)]
        assert _answers(store, catalog) == folded


def _answers(store: Any, catalog: Any) -> list[list[str]]:
    return [_findings(audit(catalog, store, t)) for t in (NOW, *TIMES)]


@settings(
    max_examples=4,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(seed=st.integers(0, 10_000), limit=st.integers(1, 7), merges=st.integers(0, 2))
def test_bounded_steps_answer_as_the_fold_at_every_point(
    tmp_path_factory: pytest.TempPathFactory, seed: int, limit: int, merges: int
) -> None:
    """The service's steps (``refresh`` with a limit): after ingest and after a catalog
    change, a reader's audit equals the fold of every subject before, between and after
    the steps, and the steps end with every mark handled."""
    from lineage.projection.store import Store

    c = generate(seed, subjects=16)
    lineage, path = _home(tmp_path_factory.mktemp("steps"), c.catalog)
    events = list(c.events)
    half = len(events) // 2
    app = _app(lineage)
    with app.store() as store:
        reader = Store.over(store.con.cursor(), store.path)

        def check(catalog: Any) -> None:
            reader.con.execute("BEGIN TRANSACTION")
            try:
                folded = [_findings(audit(catalog, reader, t, keep=False)) for t in (NOW, *TIMES)]
                assert _answers(reader, catalog) == folded
                assert company(reader, NOW, catalog).stored == 0  # a reader stores nothing
            finally:
                reader.con.execute("ROLLBACK")

        def steps(catalog: Any) -> int:
            n = 0
            while True:
                check(catalog)
                before = waiting(store)
                stored, current = refresh(store, catalog, limit=limit)
                n += 1
                assert waiting(store) < before or (current and before == 0) or stored == 0
                if current:
                    check(catalog)
                    assert _kept(store)["dirty_refs"] == 0
                    return n

        for part, batch in enumerate((events[:half], events[half:] + _merging(c, merges))):
            assert lineage.emit(batch, name=f"part{part}.jsonl").exit_code == 0
            app.catch_up(store)
            steps(_catalog(path))
        path.write_text(yaml.safe_dump(_edited(c.catalog, seed), sort_keys=False))
        edited = _catalog(path)
        stored, current = refresh(store, edited, limit=limit)  # the restart: marks only
        assert (stored, current) == (0, False)
        assert _kept(store)["summary_comps"] == 0 and waiting(store) > limit
        assert steps(edited) > 1
        sums = company(store, NOW, edited)
        assert sums.stored == 0 and sums.kept > 0  # the steps left nothing to store
        reader.con.close()


def test_most_references_marked_is_one_fold_of_every_component(tmp_path: Path) -> None:
    """``refresh`` without a limit folds only the marked references' components while they
    are few, and every component at once (the worker processes' fold) from
    ``FOLD_ALL_SHARE`` of the references on, as after a rebuild or a migration; the audit
    from the kept summaries is the fold of every subject either way."""
    from lineage.projection.queries import sql
    from lineage.services.company import FOLD_ALL_SHARE, folds_all

    c = generate(21, subjects=60)
    lineage, path = _home(tmp_path, c.catalog)
    assert lineage.emit(list(c.events)).exit_code == 0
    catalog = _catalog(path)
    app = _app(lineage)
    with app.store() as store:
        app.catch_up(store)
        assert folds_all(store, catalog)  # nothing folded under this catalog yet
        every, current = refresh(store, catalog)
        assert current and every == _kept(store)["summary_comps"] > 40
        assert not folds_all(store, catalog)
        refs = [r for (r,) in store.con.execute("SELECT ref FROM summary_refs").fetchall()]

        def marked(n: int) -> int:
            store.con.execute(
                "INSERT INTO dirty_refs SELECT unnest($refs::VARCHAR[])", {"refs": refs[:n]}
            )
            few = folds_all(store, catalog)
            stored, current = refresh(store, catalog)
            assert current and _kept(store)["dirty_refs"] == 0
            folded = [_findings(audit(catalog, store, t, keep=False)) for t in (NOW, *TIMES)]
            assert _answers(store, catalog) == folded
            assert few == (stored == every)
            return stored

        below = int(FOLD_ALL_SHARE * len(refs)) - 1
        assert 0 < marked(2) <= 2 < every  # their components only
        assert marked(below) < every
        assert marked(below + 2) == every  # the fold of every component
        store.con.execute(f"INSERT INTO dirty_refs {sql('every_ref')}")  # as a rebuild leaves
        assert folds_all(store, catalog) and refresh(store, catalog) == (every, True)


def _summary_rows(store: Any) -> dict[str, list[str]]:
    return {
        name: sorted(map(repr, store.con.execute(f"SELECT * FROM summary_{name}").fetchall()))
        for name in ("comps", "refs", "holdings", "ends", "moves", "breaches")
    }


@pytest.mark.parametrize("in_workers", [False, True])
def test_the_first_fold_stores_range_by_range(
    tmp_path: Path, in_workers: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fold of every component (the first audit after a rebuild) stores its summaries
    range of references by range as it goes, never every component's at once, and keeps
    what one store of the whole fold would: the audit is the audit of every subject folded
    now."""
    from lineage.services import company as company_module

    c = generate(11, subjects=30)
    lineage, path = _home(tmp_path, c.catalog)
    assert lineage.emit([*c.events, *_merging(c, 2)]).exit_code == 0
    app, catalog = _app(lineage), _catalog(path)
    monkeypatch.setattr(company_module, "READ_RANGE_EVENTS", 25)
    monkeypatch.setattr(company_module, "PARALLEL_EVENTS", 1 if in_workers else 10**12)
    monkeypatch.setattr(company_module, "_cpus", lambda: 2)
    stores: list[int] = []
    store_rows = company_module._store_rows

    def counted(store: Any, rows: Any) -> None:
        stores.append(rows.size())
        store_rows(store, rows)

    monkeypatch.setattr(company_module, "_store_rows", counted)
    with app.store() as store:
        app.catch_up(store)
        events = store.con.execute("SELECT count(*) FROM events").fetchall()[0][0]
        assert store.con.execute("SELECT count(*) FROM identity_links").fetchall()[0][0] > 0
        found = _findings(audit(catalog, store, NOW))
        comps = store.con.execute("SELECT count(*) FROM summary_comps").fetchall()[0][0]
        # Stores after ranges of about 25 events (a range whose parts are still with the
        # workers stores them later) and one for the linked components at the end.
        assert events // 25 > 2 and len(stores) > 2
        assert sum(stores) == comps and max(stores) < comps
        assert found == _findings(audit(catalog, store, NOW, keep=False))
        kept = _summary_rows(store)
    monkeypatch.setattr(company_module, "READ_RANGE_EVENTS", 10**9)  # one range: one store
    stores.clear()
    with app.store() as store:
        store.set_meta("summary_fingerprint", "-")  # fold every component again
        assert _findings(audit(catalog, store, NOW)) == found
        assert len(stores) <= 2 and _summary_rows(store) == kept


def test_a_failure_after_some_pieces_are_stored_leaves_the_old_summaries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fold of every component fails after storing some ranges' summaries: the
    transaction keeps none of them, the summaries and marks from before stay as they were,
    and the next audit folds every component again."""
    from lineage.services import company as company_module

    c = generate(5, subjects=24)
    lineage, path = _home(tmp_path, c.catalog)
    assert lineage.emit(c.events).exit_code == 0
    app, catalog = _app(lineage), _catalog(path)
    monkeypatch.setattr(company_module, "READ_RANGE_EVENTS", 20)
    monkeypatch.setattr(company_module, "PARALLEL_EVENTS", 10**12)
    with app.store() as store:
        app.catch_up(store)
        found = _findings(audit(catalog, store, NOW))
        before = (_summary_rows(store), _kept(store), store.meta("summary_fingerprint"))
        calls = []
        store_rows = company_module._store_rows

        def failing(store: Any, rows: Any) -> None:
            calls.append(rows.size())
            if len(calls) == 3:
                raise Interrupted
            store_rows(store, rows)

        monkeypatch.setattr(company_module, "_store_rows", failing)
        monkeypatch.setattr(company_module, "fingerprint", lambda _: "another rulebook")
        with pytest.raises(Interrupted):
            refresh(store, catalog)
        assert len(calls) == 3  # two pieces were stored in the transaction, then it failed
        assert (_summary_rows(store), _kept(store), store.meta("summary_fingerprint")) == before
        monkeypatch.setattr(company_module, "_store_rows", store_rows)
        assert _findings(audit(catalog, store, NOW)) == found
        assert store.meta("summary_fingerprint") == "another rulebook"
