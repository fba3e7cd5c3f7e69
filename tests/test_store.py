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


def test_every_migration_is_a_query_file() -> None:
    from lineage.projection.store import MIGRATIONS

    for name in MIGRATIONS.values():
        assert statements(name)
