"""The DuckDB file that holds the projection.

One writer connection per process. DuckDB lets only one process open a file for writing (and
then no other process may open it at all), so commands open the store briefly and close it.
"""

from __future__ import annotations

import contextlib
import os
from collections import namedtuple
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from functools import cache, partial
from pathlib import Path
from typing import Any

import duckdb

from lineage.errors import (
    LineageError,
    NoSpaceError,
    ProjectionBusyError,
    ProjectionError,
    is_no_space,
)
from lineage.projection.queries import sql, statements

SCHEMA_VERSION = "7"
# How an existing projection reaches each later version: queries/<name>.sql, applied in order.
# 2: indexes for per-subject lookups; 3: forgotten_subjects (forgetting after erasure);
# 4: a fingerprint of the last applied record beside each position; 5: kept per-component
# summaries and the marks of what changed since (services.company); 6: kept (flow, subject)
# and (flow, category) pairs for the observed flows, filled from the events there; 7: the
# kept summaries keyed by integers (emptied: the next company-wide answer folds them again).
# "schema" makes the tables a version adds (every statement of schema.sql is IF NOT EXISTS).
MIGRATIONS = {
    "2": ("migrate_2",),
    "3": ("migrate_3",),
    "4": ("migrate_4",),
    "5": ("migrate_5",),
    "6": ("schema", "flow_subjects_fill", "flow_categories_fill"),
    "7": ("migrate_7", "schema"),
}


class Store:
    def __init__(
        self,
        path: Path | str = ":memory:",
        *,
        read_only: bool = False,
        indexes: bool = True,
        memory_limit: str | None = None,
    ) -> None:
        """``indexes=False``: a bulk load (see ``App.rebuild``): a new file gets no lookup
        indexes until ``create_indexes``, and batches leave the kept flow pairs to
        ``fill_flows`` after the load. ``memory_limit``: DuckDB's, for this connection's
        database (its buffers of table blocks otherwise stay cached up to most of the RAM)."""
        self.path = str(path)
        self.read_only = read_only
        # Whether each batch keeps the flow pairs (queries/flow_subjects_batch.sql).
        self.keeps_flows = indexes
        file = None if self.path == ":memory:" else Path(self.path)
        if file is not None and not read_only:
            _create(file, indexes)
        try:
            self.con = duckdb.connect(self.path, read_only=read_only)
        except duckdb.Error as exc:
            raise _open_error(self.path, exc) from None
        # Which file this is: a file deleted or replaced under a writer loses its work.
        try:
            self._identity = _identity(file) if file is not None else None
        except FileNotFoundError:  # deleted between the open and now
            self.con.close()
            raise ProjectionError(
                f"projection {self.path} was deleted or replaced while this command opened "
                "it; run the command again"
            ) from None
        self.con.execute("SET TimeZone = 'UTC'")
        if memory_limit is not None:
            self.con.execute(f"SET memory_limit = '{memory_limit}'")
        if not read_only:
            self._migrate(indexes)

    def create_indexes(self, memory_limit: str | None = None) -> None:
        """The lookup indexes (``queries/indexes.sql``), on the rows already there; under
        ``memory_limit`` from then on, if given (an index being built cannot be evicted)."""
        if memory_limit is not None:
            self.con.execute(f"SET memory_limit = '{memory_limit}'")
        with self.transaction():
            for stmt in statements("indexes"):
                self.con.execute(stmt)

    def fill_flows(self) -> None:
        """The kept (flow, subject) and (flow, category) pairs from every event, in one pass
        (after a bulk load: kept batch by batch, each batch would probe every kept pair)."""
        with self.transaction():
            for name in ("flow_subjects_fill", "flow_categories_fill"):
                for stmt in statements(name):
                    self.con.execute(stmt)
        self.keeps_flows = True

    def check_file(self) -> None:
        """Fail if the file at this path is no longer the one this store wrote to."""
        if self._identity is None:
            return
        try:
            same = _identity(Path(self.path)) == self._identity
        except OSError:
            same = False
        if not same:
            raise ProjectionError(
                f"projection {self.path} was deleted or replaced while this command wrote "
                "to it: that work is lost; run the command again"
            )

    @classmethod
    def over(cls, con: duckdb.DuckDBPyConnection, label: str, *, read_only: bool = True) -> Store:
        """A Store on a connection set up elsewhere (views over shards; read-only unless
        told: a cursor of a writable store, for a thread of its own)."""
        store = cls.__new__(cls)
        store.path = label
        store.read_only = read_only
        store.keeps_flows = False
        store.con = con
        con.execute("SET TimeZone = 'UTC'")
        return store

    def _migrate(self, indexes: bool = True) -> None:
        try:
            current = self.meta("schema_version")
        except duckdb.CatalogException:  # a new file: no meta table yet
            current = None
        if current == SCHEMA_VERSION:
            return
        if current is None:
            steps = ["schema", "indexes"] if indexes else ["schema"]
        elif current.isdigit() and int(current) < int(SCHEMA_VERSION):
            steps = [
                name
                for version, names in MIGRATIONS.items()
                if int(version) > int(current)
                for name in names
            ]
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
        try:
            self.con.execute("BEGIN TRANSACTION")
            try:
                yield
            except BaseException:
                with contextlib.suppress(duckdb.Error):  # a failed write may have ended it
                    self.con.execute("ROLLBACK")
                raise
            self.con.execute("COMMIT")
        except duckdb.Error as exc:
            if is_no_space(exc):
                raise NoSpaceError(self.path) from None
            raise

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
        """Run the named query ``queries/<name>.sql`` with parameters. Times go in and come
        out aware, in UTC (the tables keep naive UTC): the one place they are converted."""
        cur = self.con.execute(sql(name), _params(params))
        rows = cur.fetchall()
        stamps = _timestamp_columns(cur.description)
        return [_aware(row, stamps) for row in rows] if stamps and rows else rows

    def fetch_naive(
        self, name: str, params: Sequence[Any] | dict[str, Any] = ()
    ) -> list[tuple[Any, ...]]:
        """``fetch`` with the result's times as the tables keep them (naive UTC): for loops
        over many rows that convert only the few times they keep."""
        rows: list[tuple[Any, ...]] = self.con.execute(sql(name), _params(params)).fetchall()
        return rows

    def fetch_dicts(
        self, name: str, params: Sequence[Any] | dict[str, Any] = ()
    ) -> list[dict[str, Any]]:
        cur = self.con.execute(sql(name), _params(params))
        cols = [d[0] for d in cur.description]
        stamps = _timestamp_columns(cur.description)
        rows = cur.fetchall()
        if stamps:
            rows = [_aware(row, stamps) for row in rows]
        return [dict(zip(cols, row, strict=True)) for row in rows]

    def rows(self, name: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[Any]:
        """The named query's rows as named tuples (attribute access, cheap to build)."""
        cur = self.con.execute(sql(name), _params(params))
        cls = _row_type(tuple(d[0] for d in cur.description))
        stamps = _timestamp_columns(cur.description)
        make = cls._make
        if stamps:
            return [make(_aware(row, stamps)) for row in cur.fetchall()]
        return [make(row) for row in cur.fetchall()]

    def stream(
        self, name: str, params: Sequence[Any] | dict[str, Any] = (), size: int = 65_536
    ) -> Iterator[Any]:
        """``rows``, fetched ``size`` at a time: for queries over every event.

        Read as Arrow batches and turned into Python values column by column: DuckDB's
        row-by-row conversion was most of a company-wide fold's time. Only for column types
        whose Python values are the same either way (else the row path)."""
        rel = self.con.sql(sql(name), params=_params(params))
        kinds = [str(t) for t in rel.types]
        if not all(k in _COLUMNAR for k in kinds):
            yield from self._stream_rows(name, params, size)
            return
        for batch in rel.to_arrow_reader(size):
            yield from arrow_rows(batch)

    def batches(
        self, name: str, params: Sequence[Any] | dict[str, Any] = (), size: int = 65_536
    ) -> Any:
        """A reader of the named query's result as Arrow record batches (``arrow_rows``
        makes them the rows ``stream`` gives), or None when a column's type would convert
        differently."""
        rel = self.con.sql(sql(name), params=_params(params))
        if not all(str(t) in _COLUMNAR for t in rel.types):
            return None
        return rel.to_arrow_reader(size)  # close it to run other queries before its end

    def _stream_rows(
        self, name: str, params: Sequence[Any] | dict[str, Any], size: int
    ) -> Iterator[Any]:
        cur = self.con.execute(sql(name), _params(params))
        make = _row_type(tuple(d[0] for d in cur.description))._make
        stamps = _timestamp_columns(cur.description)
        while chunk := cur.fetchmany(size):
            for row in chunk:
                yield make(_aware(row, stamps) if stamps else row)

    def close(self) -> None:
        try:
            self.con.close()  # may checkpoint: it writes
        except duckdb.Error as exc:
            if is_no_space(exc):
                raise NoSpaceError(self.path) from None
            raise

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _naive(value: Any) -> Any:
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    return value


def _params(params: Sequence[Any] | dict[str, Any]) -> Sequence[Any] | dict[str, Any]:
    if isinstance(params, dict):
        return {k: _naive(v) for k, v in params.items()}
    return [_naive(v) for v in params]


# Column types whose Arrow values convert to the same Python values as DuckDB's own rows
# (times: naive in both, made aware in UTC here).
_COLUMNAR = frozenset(
    {"VARCHAR", "VARCHAR[]", "TIMESTAMP", "INTEGER", "BIGINT", "BOOLEAN", "DOUBLE"}
)


def arrow_rows(batch: Any) -> Iterator[Any]:
    """An Arrow record batch (or table) of a query's result as ``stream``'s named tuples."""
    import pyarrow as pa

    make = partial(tuple.__new__, _row_type(tuple(batch.schema.names)))
    cols = []
    for column, f in zip(batch.columns, batch.schema, strict=True):
        if pa.types.is_timestamp(f.type) and f.type.unit == "us" and f.type.tz is None:
            cols.append(_aware_times(column.cast(pa.int64()).to_pylist()))
        elif pa.types.is_timestamp(f.type):
            cols.append([None if v is None else v.replace(tzinfo=UTC) for v in column.to_pylist()])
        else:
            cols.append(column.to_pylist())
    return map(make, zip(*cols, strict=True))


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _aware_times(micros: list[int | None]) -> list[datetime | None]:
    """Microseconds since the epoch as aware UTC times: the same values as Arrow's own
    conversion made aware, in a quarter of the time (that conversion was most of reading
    the rows of a fold)."""
    epoch, us = _EPOCH, timedelta(microseconds=1)
    return [None if v is None else epoch + v * us for v in micros]


def _timestamp_columns(description: Any) -> tuple[int, ...]:
    return tuple(i for i, d in enumerate(description) if str(d[1]) == "TIMESTAMP")


def _aware(row: tuple[Any, ...], stamps: tuple[int, ...]) -> tuple[Any, ...]:
    values = list(row)
    for i in stamps:
        if values[i] is not None:
            values[i] = values[i].replace(tzinfo=UTC)
    return tuple(values)


@cache
def _row_type(columns: tuple[str, ...]) -> Any:
    return namedtuple("Row", columns)


def _identity(path: Path) -> tuple[int, int]:
    st = os.stat(path)
    return st.st_dev, st.st_ino


def _open_error(path: str, exc: duckdb.Error) -> LineageError:
    msg = str(exc).splitlines()[0]
    if is_no_space(exc):
        return NoSpaceError(path)
    if "lock" in msg.lower():
        return ProjectionBusyError(path, 0)
    if "not a valid DuckDB database" in msg or "orrupt" in msg:
        return ProjectionError(f"projection {path} is damaged ({msg}): run `lineage rebuild`")
    return ProjectionError(f"cannot open projection {path}: {msg}")


def _create(target: Path, indexes: bool = True) -> None:
    """Create a missing projection whole: built under a temporary name and linked into
    place, so a failure (a full disk) leaves no empty file that later opens would take for
    a damaged projection."""
    if target.exists():
        if target.stat().st_size:
            return
        target.unlink()  # empty: a creation that failed before this version; nothing in it
    tmp = target.with_name(f".{target.name}.{os.getpid()}.new")
    try:
        con = duckdb.connect(str(tmp))
        try:
            for stmt in [*statements("schema"), *(statements("indexes") if indexes else [])]:
                con.execute(stmt)
            con.execute("INSERT INTO meta VALUES ('schema_version', ?)", [SCHEMA_VERSION])
            con.execute("CHECKPOINT")
        finally:
            con.close()
        # A WAL left by a deleted projection must not be replayed into the new one.
        Path(f"{target}.wal").unlink(missing_ok=True)
        with contextlib.suppress(FileExistsError):  # another process was first: use theirs
            os.link(tmp, target)
    except duckdb.Error as exc:
        raise _open_error(str(target), exc) from None
    except OSError as exc:
        if is_no_space(exc):
            raise NoSpaceError(target) from None
        raise ProjectionError(f"cannot create projection {target}: {exc.strerror}") from None
    finally:
        tmp.unlink(missing_ok=True)
        Path(f"{tmp}.wal").unlink(missing_ok=True)
