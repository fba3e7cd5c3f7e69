"""The company-wide evidence the rulebook's judgments give, subject by subject, summed.

Each identity component is folded by the rulebook (``services.subjects``) into a *summary*:
per holding, each category's retention end (``rules.retention``; only known ends can become
overdue), the move abroad its transfer is judged on (``rules.transfers.abroad``), and each
processing under consent after withdrawal. The audit, the data map and the OpenLineage
export read the sums: data held past its retention (``retain_until < as_of``), transfers
judged on their own dates as of the time asked (``rules.transfers.validity``, per distinct
date), consent breaches. So their answers add up to who-has's.

Summaries are kept in the projection (``summary_*`` tables, incremental view maintenance):
the projector marks every reference a batch touches in ``dirty_refs`` in the batch's own
transaction (``queries/mark_dirty.sql``); the next company-wide answer folds only the dirty
references' components again, through the same code, and stores them with the removal of
the marks it saw, in one transaction. ``lineage serve``, whose answers read snapshots, has
its follower do the same a bounded step at a time between the batches it projects
(``refresh`` with a limit: the same code). A summary is used only when

- it was folded under the same catalog and rulebook (``fingerprint``; else every component
  is folded again),
- its component has no mark (a reader that cannot write folds those without storing), and
- the time asked is not before the component's latest event or link (else that component
  is folded as of the time asked).

A read-only projection, or one without the tables (shard views), gets the same answer by
folding what it cannot take from storage.
"""

from __future__ import annotations

import gc
import hashlib
import json
from collections.abc import Callable, Generator, Iterable, Iterator
from contextlib import closing, contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from itertools import pairwise
from typing import TYPE_CHECKING, Any

from lineage.projection.queries import sql
from lineage.projection.store import Store, arrow_rows
from lineage.rules.reasons import Reason
from lineage.rules.retention import reckon
from lineage.rules.taxonomy import special_category
from lineage.rules.transfers import abroad, changes, validity
from lineage.services.subjects import events_params, every_state, fold_rows, linked

if TYPE_CHECKING:
    import pyarrow as pa

    from lineage.catalog.catalog import Catalog
    from lineage.rules.subject import SubjectState

# Folded "as of" this to keep: every event and link, whenever it occurred.
EVER = datetime(9999, 12, 31, tzinfo=UTC)


@dataclass
class Overdue:
    """Subjects' data held at one holder past its retention."""

    holder: str
    subjects: int = 0
    categories: set[str] = field(default_factory=set)
    purposes: set[str] = field(default_factory=set)  # data uses
    pids: set[str] = field(default_factory=set)  # catalog purposes
    earliest: datetime | None = None
    latest: datetime | None = None
    examples: list[str] = field(default_factory=list)

    @property
    def special(self) -> list[str]:
        return sorted(c for c in self.categories if special_category(c))


@dataclass
class Transfer:
    """Subjects whose data is at a recipient outside the EEA, by source, purpose and tool."""

    holder: str
    purpose: str | None
    from_holder: str | None
    country: str
    mechanism: str
    subjects: int = 0
    invalid: int = 0
    # Why transfers are invalid (parts of ``rules.reasons`` texts), each once.
    problems: list[Reason] = field(default_factory=list)
    first_seen: datetime | None = None
    last_seen: datetime | None = None


@dataclass
class ConsentBreach:
    holder: str
    purpose: str
    subjects: int = 0
    events: int = 0
    first_at: datetime | None = None
    last_at: datetime | None = None


@dataclass
class Company:
    as_of: datetime
    subjects: int = 0
    overdue: dict[str, Overdue] = field(default_factory=dict)
    transfers: dict[tuple[str, str | None, str | None, str, str], Transfer] = field(
        default_factory=dict
    )
    consent: dict[tuple[str, str], ConsentBreach] = field(default_factory=dict)
    # How the sums were reached: components taken from storage, folded now, stored now.
    kept: int = 0
    folded: int = 0
    stored: int = 0


# -- one component's summary -------------------------------------------------------------


@dataclass
class Summaries:
    """Summary rows of some components, in the columns of the ``summary_*`` tables."""

    comps: list[tuple[str, list[str], datetime]] = field(default_factory=list)
    # Per holding with a known end: its earliest (overdue once that has passed).
    holdings: list[tuple[str, str, datetime]] = field(default_factory=list)
    # Uses and catalog purposes as JSON lists: text compares fast in the sums.
    ends: list[tuple[str, str, str, datetime, str, str]] = field(default_factory=list)
    moves: list[tuple[str, str, str | None, str | None, str, str, datetime]] = field(
        default_factory=list
    )
    breaches: list[tuple[str, str, str, datetime]] = field(default_factory=list)
    # More rows as Arrow tables (folded in worker processes), one per table name each.
    parts: list[dict[str, pa.Table]] = field(default_factory=list)

    def merge(self, other: Summaries) -> None:
        """Take ``other``'s rows too."""
        self.comps += other.comps
        self.holdings += other.holdings
        self.ends += other.ends
        self.moves += other.moves
        self.breaches += other.breaches
        self.parts += other.parts

    def size(self) -> int:
        """How many components these summaries hold."""
        return len(self.comps) + sum(p["comps"].num_rows for p in self.parts)

    def tools(self) -> set[tuple[str, str]]:
        """The (transfer tool, country) pairs of the moves."""
        out = {(m[5], m[4]) for m in self.moves}
        for p in self.parts:
            t = p["moves"].select(["mechanism", "country"])
            out.update(zip(*(c.to_pylist() for c in t.columns), strict=True))
        return out

    def add(self, s: SubjectState, latest: datetime, catalog: Catalog | None) -> None:
        comp = s.refs[0]
        self.comps.append((comp, s.refs, latest))
        ends = self.ends
        for h in s.held():
            kept = reckon(s, h, catalog)
            first: datetime | None = None
            receipts: dict[str, list[tuple[str | None, tuple[str, ...]]]] = {}
            for (c, use, _), receipt in kept.receipts.items():
                receipts.setdefault(c, []).append((use, receipt.pids))
            for category, r in kept.categories.items():
                until = r.until
                if until is None or r.open:
                    continue  # open or unknown: never overdue
                if first is None or until < first:
                    first = until
                uses, pids = _texts(tuple(receipts[category]))
                ends.append((comp, h.name, category, until, uses, pids))
            if first is not None:
                self.holdings.append((comp, h.name, first))
            found = abroad(h, catalog)
            if found is not None and h.move is not None:
                m = h.move
                country, tool = found
                self.moves.append(
                    (comp, h.name, m.purpose, m.from_holder, country, tool or "none", m.at)
                )
        for v in s.violations:
            self.breaches.append((comp, v.holder, v.purpose, v.at))

    def tables(self) -> dict[str, pa.Table]:
        import pyarrow as pa

        # Naive UTC, as the tables keep it: unions with them need no time-zone conversion.
        ts = pa.timestamp("us")
        text, texts = pa.string(), pa.list_(pa.string())

        def table(rows: list[Any], schema: list[tuple[str, pa.DataType]]) -> pa.Table:
            cols = list(zip(*rows, strict=True)) if rows else [() for _ in schema]
            return pa.table(
                [pa.array(c, type=t) for c, (_, t) in zip(cols, schema, strict=True)],
                names=[n for n, _ in schema],
            )

        own = {
            "comps": table(self.comps, [("comp", text), ("refs", texts), ("latest", ts)]),
            "refs": table(
                [(comp, ref) for comp, refs, _ in self.comps for ref in refs],
                [("comp", text), ("ref", text)],
            ),
            "holdings": table(self.holdings, [("comp", text), ("holder", text), ("first_end", ts)]),
            "ends": table(
                self.ends,
                [
                    ("comp", text),
                    ("holder", text),
                    ("category", text),
                    ("retain_until", ts),
                    ("uses", text),
                    ("pids", text),
                ],
            ),
            "moves": table(
                self.moves,
                [
                    ("comp", text),
                    ("holder", text),
                    ("purpose", text),
                    ("from_holder", text),
                    ("country", text),
                    ("mechanism", text),
                    ("moved_at", ts),
                ],
            ),
            "breaches": table(
                self.breaches,
                [("comp", text), ("holder", text), ("purpose", text), ("breach_at", ts)],
            ),
        }
        if not self.parts:
            return own
        return {k: pa.concat_tables([own[k], *(p[k] for p in self.parts)]) for k in own}


@cache
def _texts(receipts: tuple[tuple[str | None, tuple[str, ...]], ...]) -> tuple[str, str]:
    """A category's receipts' (data use, catalog purposes) as the JSON lists kept: its uses
    and its purposes, each sorted once. Cached: a few combinations recur in every subject."""
    uses = {use or "(none)" for use, _ in receipts}
    pids = {p for _, ps in receipts for p in ps}
    return json.dumps(sorted(uses)), json.dumps(sorted(pids))


# A fold of every component spreads over worker processes from this many events on (below,
# starting the processes costs more than it saves), in chunks of about this many events.
PARALLEL_EVENTS = 100_000
CHUNK_EVENTS = 32_768
# A read of every subject's events is sorted by reference: range by range of references
# of about this many events, so that DuckDB holds one range's rows at a time, not all of
# them (about 400 MB per million events, beside the process's own).
READ_RANGE_EVENTS = 500_000


def summarize(
    store: Store,
    as_of: datetime,
    catalog: Catalog | None,
    refs: Iterable[str] | None = None,
    *,
    workers: int | None = None,
) -> Summaries:
    """Every component's summary as of ``as_of`` (or those of ``refs``' components).
    A fold of every component runs in ``workers`` processes (by default one per CPU when
    there are enough events; 0: in this process)."""
    out = Summaries()
    with _gc_paused():
        _summarize(store, as_of, catalog, refs, workers, out.merge)
    return out


@contextmanager
def _gc_paused() -> Iterator[None]:
    """The cyclic GC off while folding: a fold makes tens of thousands of rows, states and
    summary tuples, none in a cycle (refcounting frees them), which the GC would otherwise
    rescan over and over (measured: about two thirds of the fold's time after 1% new events,
    as in the projector)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _summarize(
    store: Store,
    as_of: datetime,
    catalog: Catalog | None,
    refs: Iterable[str] | None,
    workers: int | None,
    sink: Callable[[Summaries], None],
    pieces: bool = False,
) -> None:
    """The summaries handed to ``sink``: in one piece, or (``pieces``, every component)
    range of references by range as they are folded (``sink`` is called when the
    connection holds no open result: it may write through it, in the same transaction)."""
    if refs is None:
        if workers is None:
            workers = _workers(store)
        if (workers > 0 or pieces) and _folded_in_parts(
            store, as_of, catalog, workers, sink, pieces
        ):
            return
    out = Summaries()
    for state, latest in every_state(store, as_of, catalog, refs):
        out.add(state, latest, catalog)
    sink(out)


class _PoolLost(Exception):
    """The worker processes were lost after some summaries had been handed over."""


def _folded_in_parts(
    store: Store,
    as_of: datetime,
    catalog: Catalog | None,
    workers: int,
    sink: Callable[[Summaries], None],
    pieces: bool,
) -> bool:
    """``_summarize`` of every component through ``_summarize_in_workers``: whether it
    could (False: nothing handed over, fold in one piece here)."""
    from concurrent.futures.process import BrokenProcessPool

    whole = Summaries()
    handed = False

    def take(rows: Summaries) -> None:
        nonlocal handed
        if pieces:
            handed = True
            sink(rows)
        else:
            whole.merge(rows)

    try:
        done = _summarize_in_workers(store, as_of, catalog, workers, CHUNK_EVENTS, take)
    except (BrokenProcessPool, OSError) as exc:
        # No processes to be had here: fold in this one, unless pieces were handed over
        # already (they would be handed over twice): the caller drops them first.
        if handed:
            raise _PoolLost from exc
        if not pieces or workers == 0:
            return False
        return _folded_in_parts(store, as_of, catalog, 0, sink, pieces)
    if done and not pieces:
        sink(whole)
    return done


def _cpus() -> int:
    import os

    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _workers(store: Store) -> int:
    cpus = _cpus()
    if cpus < 2:
        return 0
    row = store.con.execute("SELECT count(*) FROM events").fetchone()
    return min(cpus, 8) if row is not None and row[0] >= PARALLEL_EVENTS else 0


def ref_ranges(store: Store, events: int) -> list[tuple[str | None, str | None]]:
    """Ranges of references [from, below) (None: open) that together hold every reference,
    in order, each with about ``READ_RANGE_EVENTS`` of the ``events``: one, unbounded, for
    fewer. The bounds come from a sample of the references: whatever they are, the ranges'
    rows one after the other are every row in reference order."""
    parts = -(-events // READ_RANGE_EVENTS)
    if parts <= 1:
        return [(None, None)]
    sample = sorted(
        r
        for (r,) in store.con.execute(
            f"SELECT subject_ref FROM events USING SAMPLE reservoir({64 * parts} ROWS)"
        ).fetchall()
    )
    bounds = sorted({sample[i * len(sample) // parts] for i in range(1, parts)})
    edges: list[str | None] = [None, *bounds, None]
    return list(pairwise(edges))


def _summarize_in_workers(
    store: Store,
    as_of: datetime,
    catalog: Catalog | None,
    workers: int,
    chunk: int,
    sink: Callable[[Summaries], None],
) -> bool:
    """``summarize`` of every component, the folding done by worker processes (0: here,
    part by part all the same). The events are read here in reference order, range by
    range, and handed over as Arrow tables cut between references; the references of
    larger components (identity links) are read again in a pass of their own, ordered by
    component, and handed over whole components at a time, as ``every_state`` folds them.
    The summaries folded so far go to ``sink`` after each range and at the end, when the
    connection holds no open result. False, nothing handed over: the events cannot be read
    as Arrow batches here."""
    import multiprocessing
    from collections import deque
    from concurrent.futures import Future, ProcessPoolExecutor

    import pyarrow as pa
    import pyarrow.compute as pc

    comps, link_times = linked(store, as_of)  # before the read: it holds the connection
    ((events,),) = store.con.execute("SELECT count(*) FROM events").fetchall()
    ranges = ref_ranges(store, events)
    first = store.batches("lineage_events", events_params(as_of, None, *ranges[0]), chunk)
    if first is None:
        return False

    def read() -> Generator[pa.RecordBatch]:
        """Every range's rows in reference order: the ranges follow each other."""
        reader = first
        for i in range(len(ranges)):
            if i:
                reader = store.batches(
                    "lineage_events", events_params(as_of, None, *ranges[i]), chunk
                )
            with reader:
                yield from reader
            deliver()  # the range's result is closed: the connection is free

    done: list[dict[str, pa.Table]] = []

    def deliver() -> None:
        if done:
            sink(Summaries(parts=done[:]))
            done.clear()

    batches = read()
    pending: deque[Future[dict[str, pa.Table]]] = deque()
    # Spawned, not forked: this process holds DuckDB's threads and locks.
    context = multiprocessing.get_context("spawn")
    # A failure mid-read (processes that cannot start) leaves no open result behind: the
    # caller folds again on this connection.
    with (
        closing(first),
        closing(batches),
        ProcessPoolExecutor(workers, mp_context=context) if workers else nullcontext() as pool,
    ):

        def submit(rows: pa.Table, *part: Any) -> None:
            if pool is None:
                done.append(_fold_part(rows, catalog, *part))
                return
            pending.append(pool.submit(_fold_part, rows, catalog, *part))
            while len(pending) > 2 * workers:  # bounded: rows in flight stay few
                done.append(pending.popleft().result())

        def hand_over(rows: pa.Table) -> None:
            if comps:
                refs = rows.column("subject_ref")
                # The value set of this batch's references in components only: one of
                # every component's references is hashed again by each call.
                here = [r for r in pc.unique(refs).to_pylist() if r in comps]
                if here:  # read again in the components' own pass
                    mine = pc.is_in(refs, value_set=pa.array(here, type=pa.string()))
                    rows = rows.filter(pc.invert(mine))
            if rows.num_rows:
                submit(rows)

        for rows in _whole_runs(batches, "subject_ref"):
            hand_over(rows)
        # The references in components: their rows read again, component by component,
        # range of components by range, and handed over whole components at a time.
        for params in _component_ranges(store, as_of, comps):
            with store.batches("lineage_events_linked", params, chunk) as reader:
                for rows in _whole_runs(reader, "comp_key"):
                    submit(*_whole_components(rows, comps, link_times))
            deliver()
        while pending:
            done.append(pending.popleft().result())
    deliver()
    return True


def _whole_runs(batches: Iterable[pa.RecordBatch], column: str) -> Iterator[pa.Table]:
    """The rows of ``batches``, ordered by ``column``, as tables cut between its values: the
    last value's rows may go on in the next batch, so they are kept back until it ends."""
    import pyarrow as pa
    import pyarrow.compute as pc

    carry: pa.Table | None = None
    for batch in batches:
        rows = pa.Table.from_batches([batch])
        if carry is not None:
            rows = pa.concat_tables([carry, rows])
        keys = rows.column(column)
        cut = pc.index(keys, keys[-1]).as_py()
        if cut > 0:
            yield rows.slice(0, cut)
        carry = rows.slice(cut)
    if carry is not None and carry.num_rows:
        yield carry


def _component_ranges(
    store: Store, as_of: datetime, comps: dict[str, list[str]]
) -> Iterator[dict[str, Any]]:
    """``lineage_events_linked.sql``'s parameters for every component's rows, range of
    components by range, each of about ``READ_RANGE_EVENTS`` events: DuckDB sorts one range
    at a time, and this process holds one batch of their rows, not all of them."""
    if not comps:
        return
    keys = sorted({refs[0] for refs in comps.values()})
    ((events,),) = store.con.execute(
        "SELECT count(*) FROM events WHERE subject_ref IN (SELECT unnest($refs::VARCHAR[]))",
        {"refs": list(comps)},
    ).fetchall()
    parts = min(len(keys), max(1, -(-events // READ_RANGE_EVENTS)))
    for i in range(parts):
        members = [
            r for k in keys[i * len(keys) // parts : (i + 1) * len(keys) // parts] for r in comps[k]
        ]
        yield {"as_of": as_of, "refs": members, "comps": [comps[r][0] for r in members]}


def _whole_components(
    rows: pa.Table, comps: dict[str, list[str]], times: dict[str, datetime]
) -> tuple[pa.Table, dict[str, list[str]], dict[str, datetime]]:
    """Rows of whole components (``lineage_events_linked.sql``'s) as a worker's part."""
    import pyarrow.compute as pc

    keys = pc.unique(rows.column("comp_key")).to_pylist()
    return _part(rows.drop_columns(["comp_key"]), keys, comps, times)


def _part(
    rows: pa.Table, keys: list[str], comps: dict[str, list[str]], times: dict[str, datetime]
) -> tuple[pa.Table, dict[str, list[str]], dict[str, datetime]]:
    part_comps = {ref: comps[key] for key in keys for ref in comps[key]}
    return rows, part_comps, {key: times[key] for key in keys if key in times}


def _fold_part(
    rows: pa.Table,
    catalog: Catalog | None,
    comps: dict[str, list[str]] | None = None,
    link_times: dict[str, datetime] | None = None,
) -> dict[str, pa.Table]:
    """In a worker: the summaries of the references in ``rows``: single references, or
    (given ``comps``) whole components, every row of each."""
    out = Summaries()
    with _gc_paused():
        for state, latest in fold_rows(arrow_rows(rows), catalog, comps or {}, link_times or {}):
            out.add(state, latest, catalog)
        return out.tables()


# -- keeping summaries ----------------------------------------------------------------------

TABLES = ("comps", "refs", "holdings", "ends", "moves", "breaches")


@cache
def _rulebook_digest() -> str:
    """The rules' code and data: a summary folded under other rules is not used."""
    from lineage.resources import package_dir

    root = package_dir()
    h = hashlib.sha256()
    for pattern in (
        "rules/*.py",
        "catalog/*.py",
        "data/*.csv",
        "services/company.py",
        "services/subjects.py",
        "timeutil.py",
    ):
        for path in sorted(root.glob(pattern)):
            h.update(path.name.encode() + b"\0" + path.read_bytes())
    return h.hexdigest()[:32]


def fingerprint(catalog: Catalog | None) -> str:
    """What the kept summaries were folded under: the rulebook and the catalog's text."""
    return f"{_rulebook_digest()}:{catalog.digest if catalog is not None else '-'}"


def _has_tables(store: Store) -> bool:
    import duckdb

    try:
        store.con.execute("SELECT 1 FROM summary_comps LIMIT 0").fetchall()
        store.con.execute("SELECT 1 FROM dirty_refs LIMIT 0").fetchall()
    except duckdb.CatalogException:
        return False
    return True


def _store_rows(store: Store, rows: Summaries) -> None:
    con = store.con
    for name, table in rows.tables().items():
        keys = "md5_number(comp), md5_number(ref)" if name == "refs" else "md5_number(comp)"
        # A relation, not a registered view: a view dropped inside a transaction stays in
        # its catalog, holding the Arrow table, until the commit (every piece stored would).
        con.from_arrow(table).project(f"*, {keys}").insert_into(f"summary_{name}")


def _affected(store: Store, dirty: list[str]) -> list[str]:
    """The marked references with every reference of their components, now and as kept."""
    comps, _ = linked(store, EVER, dirty)
    out: set[str] = set()
    for ref in dirty:
        out.update(comps.get(ref, (ref,)))
    kept = store.con.execute(sql("summary_stale_refs"), {"refs": sorted(out)}).fetchall()
    out.update(r for (r,) in kept)
    return sorted(out)


@_gc_paused()
def refresh(
    store: Store,
    catalog: Catalog | None,
    *,
    limit: int | None = None,
    before_store: Any = None,
) -> tuple[int, bool]:
    """One step of bringing the kept summaries up to date, if this store may be written:
    take up to ``limit`` marked references (None: every one), fold their components again
    and store them with the removal of the marks of the references folded, as this
    transaction saw them, in one transaction; marks committed meanwhile stay. Under a new
    catalog or rulebook the summaries are first emptied and every reference marked
    (``restart``): with a limit, that is a transaction of its own and the steps after it
    work through the marks; without, it is this step's own beginning and every component
    is folded at once, as it is from a quarter of the references marked (``mostly_marked``).
    (components stored, whether the kept summaries are now current).
    ``before_store`` runs between the fold and the store."""
    import duckdb

    if store.read_only or not _has_tables(store):
        return 0, False
    want = fingerprint(catalog)
    try:
        with store.transaction():
            everything = store.meta("summary_fingerprint") != want
            if not everything and limit is None and mostly_marked(store):
                everything = True  # as after a change: every component folded again
            if everything:
                restart(store, want)
                if limit is not None:
                    return 0, False  # the marks are worked through by the next steps
            con = store.con
            taken = "SELECT DISTINCT ref FROM dirty_refs"
            if limit is not None:
                taken += f" LIMIT {int(limit)}"
            marks = [r for (r,) in con.execute(taken).fetchall()]
            if not marks:
                return 0, True
            refs = marks
            if everything:  # every reference is marked: the fold of every component
                stored = _store_every(store, catalog, before_store)
            else:
                refs = _affected(store, marks)
                stale = [c for (c,) in con.execute(sql("summary_stale"), {"refs": refs}).fetchall()]
                for name in TABLES:
                    con.execute(
                        f"DELETE FROM summary_{name} WHERE ck IN "
                        "(SELECT md5_number(unnest($comps::VARCHAR[])))",
                        {"comps": stale},
                    )
                rows = summarize(store, EVER, catalog, refs)
                if before_store is not None:
                    before_store()
                _store_rows(store, rows)
                stored = rows.size()
            if limit is None:
                con.execute("DELETE FROM dirty_refs")  # the marks this transaction saw
            else:  # the marks of every reference folded, as this transaction saw them
                con.execute(
                    "DELETE FROM dirty_refs WHERE ref IN (SELECT unnest($refs::VARCHAR[]))",
                    {"refs": refs},
                )
            current = limit is None or not con.execute(_ANY_MARK).fetchall()
    except duckdb.TransactionException:
        return 0, False  # another writer got there first: answer by folding
    return stored, current


def _store_every(store: Store, catalog: Catalog | None, before_store: Any) -> int:
    """Inside the caller's transaction, after ``restart``: every component folded and
    stored range of references by range (``before_store`` before the first): the process
    holds one range's summaries, not all of them. How many components."""
    stored = 0

    def keep(rows: Summaries) -> None:
        nonlocal stored, before_store
        if before_store is not None:
            before_store()
            before_store = None
        _store_rows(store, rows)
        stored += rows.size()

    try:
        _summarize(store, EVER, catalog, None, None, keep, pieces=True)
    except _PoolLost:  # the worker processes went after some pieces: again, here
        for name in TABLES:
            store.con.execute(f"DELETE FROM summary_{name}")
        stored = 0
        _summarize(store, EVER, catalog, None, 0, keep, pieces=True)
    if before_store is not None:  # nothing to store
        before_store()
    return stored


_ANY_MARK = "SELECT 1 FROM dirty_refs LIMIT 1"

# From this share of the references marked on, bringing the summaries up to date is the
# fold of every component (worker processes, range by range), not of the marked ones'
# components (folded in this process, in proportion to the marks). Measured at 1M events
# on a loaded two-core machine: the marked components' fold took 11 s at a quarter, 22 s
# at half; every component's, 41 s (with free cores its workers take about half that).
# The service's steps fold the marks a few at a time with a cost of their own each (about
# 0.1 s at 1M): from a quarter on, one fold of every component on its own thread is done
# long before them (``serve.runtime``); below, batches' marks stay the steps' work.
FOLD_ALL_SHARE = 0.25


def mostly_marked(store: Store) -> bool:
    """Whether at least ``FOLD_ALL_SHARE`` of the references the summaries hold are marked
    (after a rebuild or a migration: all of them). Counts only: no reference is read."""
    ((marked, kept),) = store.con.execute(
        "SELECT count(DISTINCT ref), (SELECT count(*) FROM summary_refs) FROM dirty_refs"
    ).fetchall()
    return marked > 0 and marked >= FOLD_ALL_SHARE * max(kept, marked)


def folds_all(store: Store, catalog: Catalog | None) -> bool:
    """Whether ``refresh`` without a limit would fold every component now: the summaries
    were folded under another catalog or rulebook (or none yet), or a quarter of the
    references are marked."""
    if store.read_only or not _has_tables(store):
        return False
    return store.meta("summary_fingerprint") != fingerprint(catalog) or mostly_marked(store)


def restart(store: Store, want: str) -> None:
    """Inside the caller's transaction: no summary holds (a new catalog or rulebook),
    every reference is marked, and ``want`` is what the summaries will be folded under."""
    con = store.con
    for name in TABLES:
        con.execute(f"DELETE FROM summary_{name}")
    con.execute("DELETE FROM dirty_refs")
    con.execute(f"INSERT INTO dirty_refs {sql('every_ref')}")
    store.set_meta("summary_fingerprint", want)


def waiting(store: Store, want: str | None = None) -> int:
    """How many marked references wait to be folded (0 without the tables); given the
    fingerprint ``want`` the summaries are to be folded under, every reference when the
    kept ones were folded under another (the steps' restart is still to come)."""
    if not _has_tables(store):
        return 0
    query = "SELECT count(DISTINCT ref) FROM dirty_refs"
    kept = store.meta("summary_fingerprint")
    if want is not None and kept is not None and kept != want:
        query = f"SELECT count(*) FROM ({sql('every_ref')})"
    row = store.con.execute(query).fetchone()
    return int(row[0]) if row is not None else 0


# -- the sums -------------------------------------------------------------------------------


@_gc_paused()
def company(
    store: Store,
    as_of: datetime,
    catalog: Catalog | None = None,
    *,
    keep: bool = True,
) -> Company:
    """Every subject's evidence as of ``as_of``, summed: from the kept summaries where they
    hold for that time (brought up to date first when the store is writable), folded now
    where they do not. ``keep=False`` folds every component now and neither reads nor
    writes kept summaries (what they are checked against)."""
    stored, current = refresh(store, catalog) if keep else (0, False)
    usable = (
        keep
        and (current or _has_tables(store))
        and store.meta("summary_fingerprint") == fingerprint(catalog)
        # None kept yet (steps begun after a change): the fold of every component, which
        # may spread over worker processes, rather than of every marked one here.
        and (current or bool(store.con.execute("SELECT 1 FROM summary_comps LIMIT 1").fetchall()))
    )
    skipped: list[str] = []
    if not usable:
        fresh = summarize(store, as_of, catalog)
    else:
        con = store.con
        marked: list[str] = []
        if not current:  # a reader: the marked components are folded, not taken
            marked = [r for (r,) in con.execute("SELECT DISTINCT ref FROM dirty_refs").fetchall()]
        affected = _affected(store, marked) if marked else []
        late = con.execute(sql("summary_late"), {"as_of": _naive(as_of), "refs": affected})
        refs: set[str] = set(affected)
        for comp, comp_refs in late.fetchall():
            skipped.append(comp)
            refs.update(comp_refs)
        fresh = summarize(store, as_of, catalog, sorted(refs)) if refs else Summaries()
    out = _sums(store, as_of, fresh, skipped if usable else None)
    out.folded, out.stored = fresh.size(), stored
    out.kept = out.subjects - out.folded
    return out


def _naive(t: datetime) -> datetime:
    return t.astimezone(UTC).replace(tzinfo=None)


def _aware(t: datetime | None) -> datetime | None:
    return t.replace(tzinfo=UTC) if t is not None else None


def _spans(con: Any, fresh: Summaries, kept: bool) -> pa.Table:
    """Per transfer tool and country, the dates the rule's judgment may change on
    (``rules.transfers.changes``): moves are grouped by the span their date falls in."""
    import pyarrow as pa

    pairs = fresh.tools()
    if kept:
        pairs.update(
            con.execute("SELECT DISTINCT mechanism, country FROM summary_moves").fetchall()
        )
    rows = sorted(pairs)
    return pa.table(
        {
            "mechanism": pa.array([m for m, _ in rows], type=pa.string()),
            "country": pa.array([c for _, c in rows], type=pa.string()),
            "changes": pa.array(
                [changes(None if m == "none" else m, c) for m, c in rows],
                type=pa.list_(pa.date32()),
            ),
        }
    )


def _sums(store: Store, as_of: datetime, fresh: Summaries, skipped: list[str] | None) -> Company:
    """Sum the summaries: ``fresh`` and, unless ``skipped`` is None, the kept ones of the
    components not in ``skipped``."""
    import pyarrow as pa

    con = store.con
    names = []
    # Only the parts there are: an empty fresh side or an empty skip list still costs a
    # union and an anti join over every kept row (most of a warm audit's sums).
    parts: dict[str, list[str]] = {name: [] for name in TABLES}
    if fresh.size() or skipped is None:
        for name, table in fresh.tables().items():
            con.register(f"fresh_{name}", table)
            names.append(f"fresh_{name}")
            parts[name].append(f"SELECT * FROM fresh_{name}")
    if skipped is not None:
        anti = ""
        if skipped:
            con.register("skipped", pa.table({"comp": pa.array(skipped, type=pa.string())}))
            names.append("skipped")
            anti = " ANTI JOIN (SELECT md5_number(comp) AS ck FROM skipped) USING (ck)"
        for name in TABLES:
            keys = "ck, rk" if name == "refs" else "ck"
            parts[name].append(f"SELECT * EXCLUDE ({keys}) FROM summary_{name}{anti}")
    con.register("spans", _spans(con, fresh, skipped is not None))
    names.append("spans")
    try:
        ctes = ", ".join(f"{name} AS ({' UNION ALL '.join(parts[name])})" for name in TABLES)

        def query(name: str) -> list[tuple[Any, ...]]:
            text = sql(name)
            params = {"as_of": _naive(as_of)} if "$as_of" in text else {}
            return con.execute(f"WITH {ctes} {text}", params).fetchall()

        out = Company(as_of)
        out.subjects = int(query("company_subjects")[0][0])
        for holder, n, examples, earliest, latest, cats, uses, pids in query("company_overdue"):
            out.overdue[holder] = Overdue(
                holder,
                n,
                set(cats),
                {u for us in uses for u in json.loads(us)},
                {p for ps in pids for p in json.loads(ps)},
                _aware(earliest),
                _aware(latest),
                [e[:16] for e in examples],
            )
        for holder, purpose, src, country, mechanism, n, first, last in query("company_moves"):
            key = (holder, purpose, src, country, mechanism)
            first, last = _aware(first), _aware(last)
            assert first is not None and last is not None
            g = out.transfers.get(key)
            if g is None:
                g = out.transfers[key] = Transfer(*key)
            g.subjects += n
            g.first_seen = first if g.first_seen is None else min(g.first_seen, first)
            g.last_seen = last if g.last_seen is None else max(g.last_seen, last)
            # The rule judges the move's date (a group shares it) as of the time asked.
            v = validity(None if mechanism == "none" else mechanism, country, first, as_of)
            if not v.valid:
                g.invalid += n
                for p in v.parts:
                    if p not in g.problems:
                        g.problems.append(p)
        for holder, purpose, n, events, first, last in query("company_breaches"):
            out.consent[(holder, purpose)] = ConsentBreach(
                holder, purpose, n, events, _aware(first), _aware(last)
            )
        return out
    finally:
        for name in names:
            con.unregister(name)
