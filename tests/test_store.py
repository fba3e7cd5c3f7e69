"""The projection's schema: created fresh, and upgraded in place from older versions."""

from __future__ import annotations

from pathlib import Path

from lineage.projection.queries import statements
from lineage.projection.store import SCHEMA_VERSION, Store


def _indexes(store: Store) -> set[str]:
    rows = store.con.execute("SELECT index_name FROM duckdb_indexes()").fetchall()
    return {r[0] for r in rows}


def test_fresh_projection_has_the_lookup_indexes(tmp_path: Path) -> None:
    with Store(tmp_path / "p.duckdb") as store:
        assert store.meta("schema_version") == SCHEMA_VERSION
        assert {"events_subject", "identity_links_subject"} <= _indexes(store)


def test_schema_1_is_upgraded_in_place(tmp_path: Path) -> None:
    path = tmp_path / "p.duckdb"
    with Store(path) as store:
        # Turn it into what version 1 wrote: the same tables, no indexes.
        for name in ("events_subject", "identity_links_subject"):
            store.con.execute(f"DROP INDEX {name}")
        store.set_meta("schema_version", "1")
        store.con.execute("INSERT INTO identity_links VALUES ('a', 'b', TIMESTAMP '2024-01-01')")
    with Store(path) as store:
        assert store.meta("schema_version") == SCHEMA_VERSION
        assert {"events_subject", "identity_links_subject"} <= _indexes(store)
        assert store.con.execute("SELECT count(*) FROM identity_links").fetchall() == [(1,)]


def test_schema_6_summaries_get_the_fresh_schemas_keyed_tables(tmp_path: Path) -> None:
    """Migrated from schema 6 (summary tables without integer keys), the kept summary tables
    are the fresh schema's, emptied, and the summaries are marked to be folded again."""
    from lineage.services.company import TABLES

    def columns(store: Store) -> dict[str, list[tuple[str, str]]]:
        return {
            name: [(r[0], r[1]) for r in store.con.execute(f"DESCRIBE summary_{name}").fetchall()]
            for name in TABLES
        }

    fresh_path, path = tmp_path / "fresh.duckdb", tmp_path / "p.duckdb"
    with Store(fresh_path) as store:
        fresh = columns(store)
    with Store(path) as store:
        for name in TABLES:
            store.con.execute(f"DROP TABLE summary_{name}")
        for stmt in statements("migrate_5"):  # the tables as schema 5 and 6 made them
            if "summary_" in stmt:
                store.con.execute(stmt)
        store.con.execute("INSERT INTO summary_comps VALUES ('c', ['c'], TIMESTAMP '2024-01-01')")
        store.set_meta("summary_fingerprint", "kept")
        store.set_meta("schema_version", "6")
    with Store(path) as store:
        assert store.meta("schema_version") == SCHEMA_VERSION
        assert columns(store) == fresh
        assert store.con.execute("SELECT count(*) FROM summary_comps").fetchall() == [(0,)]
        assert store.meta("summary_fingerprint") is None


def test_every_migration_is_a_query_file() -> None:
    from lineage.projection.store import MIGRATIONS

    for names in MIGRATIONS.values():
        for name in names:
            assert statements(name)


def test_projection_columns_come_from_the_event_definitions() -> None:
    """Every event field lands in a column or in ``detail``; the SELECT has one expression
    per ``events`` column, in the table's order."""
    import duckdb

    from lineage.events.model import EVENT_TYPES, body_fields
    from lineage.projection.columns import BODY_COLUMNS, event_columns
    from lineage.projection.queries import statements

    con = duckdb.connect()
    for stmt in statements("schema"):
        con.execute(stmt)
    table = [r[0] for r in con.execute("DESCRIBE events").fetchall()]
    assert table[-len(BODY_COLUMNS) :] == list(BODY_COLUMNS)
    select = event_columns()
    assert len(select.split(",\n    ")) == len(table)
    for cls in EVENT_TYPES.values():
        for f in body_fields(cls):
            assert f"b.{f}" in select, f"{cls.event_type}.{f} is projected nowhere"


def test_a_rebuilds_index_memory_grows_with_its_events() -> None:
    """The index build's memory cap: a floor for small projections, then per event (an ART
    being built cannot be evicted; 10M subject references needed 400-600 MB)."""
    from lineage.services.app import index_memory_limit

    assert index_memory_limit(0) == index_memory_limit(1_000_000) == "256MB"
    assert index_memory_limit(10_000_000) == "600MB"
    assert index_memory_limit(20_000_000) == "1200MB"


def test_streamed_rows_are_the_rows_duckdb_gives(tmp_path: Path) -> None:
    """``Store.stream`` reads Arrow batches column by column: the same values, types and
    order as DuckDB's own rows (times aware in UTC, NULLs, lists), with and without the
    reference filter, across batch boundaries."""
    from datetime import UTC

    from lineage.config import resolve
    from lineage.services.app import App
    from lineage.services.company import EVER
    from lineage.services.subjects import events_params
    from tests.conftest import Lineage, collected, erased, shared, transferred

    lineage = Lineage(tmp_path / "home")
    lineage.ok("init")
    events = []
    for i in range(7):
        email = f"s{i}@example.com"
        events += [collected(email), shared(email), transferred(email, mechanism_ref=None)]
        if i % 2:
            events.append(erased("webshop-db", email, categories=["user.name"]))
    assert lineage.emit(events).exit_code == 0
    app = App(resolve(lineage.home))
    with app.store() as store:
        app.catch_up(store)
        all_refs = [
            r for (r,) in store.con.execute("SELECT DISTINCT subject_ref FROM events").fetchall()
        ]
        for refs in (None, sorted(all_refs)[:3], []):
            params = events_params(EVER, refs)
            expected = list(store._stream_rows("lineage_events", params, 4))
            got = list(store.stream("lineage_events", params, 4))
            assert got == expected
            assert [type(v) for r in got for v in r] == [type(v) for r in expected for v in r]
            if refs is None:
                assert len(got) == len(events)
                assert all(r.occurred_at.tzinfo is UTC for r in got)
                assert any(r.mechanism_ref is None for r in got)
                assert any(r.categories == ["user.name"] for r in got)
