"""Querying several projection shards as one.

Each shard is a DuckDB file written by one ``project --shard i/n`` process. A query attaches
the shards it needs read-only into an in-memory database and sees their tables through
``UNION ALL`` views with the usual names, so every named query runs unchanged. Each shard is
opened between its follower's batches (``projection.access``).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import duckdb

from lineage.errors import ProjectionError
from lineage.projection.access import reader_turn
from lineage.projection.store import Store

TABLES = ("events", "identity_links", "quarantine", "log_positions")


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _attach(con: duckdb.DuckDBPyConnection, alias: str, path: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            con.execute(f"ATTACH {_quote(str(path))} AS {alias} (READ_ONLY)")
            return
        except duckdb.IOException as exc:
            if time.monotonic() >= deadline:
                raise ProjectionError(
                    f"shard {path} stayed in use for {timeout:g}s: {str(exc).splitlines()[0]}"
                ) from None
        time.sleep(0.02)


@contextlib.contextmanager
def union_store(paths: Sequence[Path], timeout: float) -> Iterator[Store]:
    """One read-only Store over the given shard files."""
    for path in paths:
        if not path.exists():
            raise ProjectionError(
                f"no projection shard at {path}: run `lineage project` with its --shard first"
            )
    with contextlib.ExitStack() as stack:
        for path in paths:
            stack.enter_context(reader_turn(path))
        con = duckdb.connect()
        stack.callback(con.close)
        aliases = [f"shard{i}" for i in range(len(paths))]
        for alias, path in zip(aliases, paths, strict=True):
            _attach(con, alias, path, timeout)
        for table in TABLES:
            union = " UNION ALL ".join(f"SELECT * FROM {a}.main.{table}" for a in aliases)
            con.execute(f"CREATE VIEW {table} AS {union}")
        con.execute(f"CREATE VIEW meta AS SELECT * FROM {aliases[0]}.main.meta")
        yield Store.over(con, " + ".join(str(p) for p in paths))
