"""The DuckDB file that holds the projection.

One writer connection per process. DuckDB lets only one process open a file for writing (and
then no other process may open it at all), so commands open the store briefly and close it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb

from lineage.errors import ProjectionError
from lineage.projection.queries import sql, statements

SCHEMA_VERSION = "4"
# How an existing projection reaches each later version: queries/<name>.sql, applied in order.
# 2: indexes for per-subject lookups; 3: forgotten_subjects (forgetting after erasure);
# 4: a fingerprint of the last applied record beside each position.
MIGRATIONS = {"2": "migrate_2", "3": "migrate_3", "4": "migrate_4"}


class Store:
    def __init__(self, path: Path | str = ":memory:", *, read_only: bool = False) -> None:
        self.path = str(path)
        self.read_only = read_only
        try:
            self.con = duckdb.connect(self.path, read_only=read_only)
        except duckdb.IOException as exc:
            msg = str(exc).splitlines()[0]
            if "lock" in msg.lower():
                raise ProjectionError(
                    f"projection {self.path} is in use by another process "
                    "(a running `lineage project --follow`?)"
                ) from None
            raise ProjectionError(f"cannot open projection {self.path}: {msg}") from None
        self.con.execute("SET TimeZone = 'UTC'")
        if not read_only:
            self._migrate()

    @classmethod
    def over(cls, con: duckdb.DuckDBPyConnection, label: str) -> Store:
        """A read-only Store on a connection set up elsewhere (views over shards)."""
        store = cls.__new__(cls)
        store.path = label
        store.read_only = True
        store.con = con
        con.execute("SET TimeZone = 'UTC'")
        return store

    def _migrate(self) -> None:
        try:
            current = self.meta("schema_version")
        except duckdb.CatalogException:  # a new file: no meta table yet
            current = None
        if current == SCHEMA_VERSION:
            return
        if current is None:
            steps = ["schema"]
        elif current.isdigit() and int(current) < int(SCHEMA_VERSION):
            steps = [name for version, name in MIGRATIONS.items() if int(version) > int(current)]
        else:
            raise ProjectionError(
                f"projection schema {current} is not {SCHEMA_VERSION}: run `lineage rebuild`"
            )
        with self.transaction():
            for step in steps:
                for stmt in statements(step):
                    self.con.execute(stmt)
            self.set_meta("schema_version", SCHEMA_VERSION)

    def meta(self, key: str) -> str | None:
        rows = self.con.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchall()
        return str(rows[0][0]) if rows else None

    def set_meta(self, key: str, value: str) -> None:
        self.con.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", [key, value])

    @contextmanager
    def transaction(self) -> Iterator[None]:
        self.con.execute("BEGIN TRANSACTION")
        try:
            yield
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        self.con.execute("COMMIT")

    def positions(self) -> dict[int, int]:
        rows = self.con.execute("SELECT log_partition, next_offset FROM log_positions").fetchall()
        return {int(p): int(o) for p, o in rows}

    def marks(self) -> dict[int, tuple[int, int | None, int | None]]:
        """Per partition: (next_offset, offset of the last applied record, its fingerprint)."""
        rows = self.con.execute(
            "SELECT log_partition, next_offset, last_offset, last_crc FROM log_positions"
        ).fetchall()
        return {int(p): (int(o), last, crc) for p, o, last, crc in rows}

    def fetch(
        self, name: str, params: Sequence[Any] | dict[str, Any] = ()
    ) -> list[tuple[Any, ...]]:
        """Run the named query ``queries/<name>.sql`` with parameters."""
        return self.con.execute(sql(name), params).fetchall()

    def fetch_dicts(
        self, name: str, params: Sequence[Any] | dict[str, Any] = ()
    ) -> list[dict[str, Any]]:
        cur = self.con.execute(sql(name), params)
        cols = [d[0] for d in cur.description]
        return [dict(zip(cols, row, strict=True)) for row in cur.fetchall()]

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
