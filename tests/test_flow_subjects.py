"""The kept (flow, subject) and (flow, category) pairs (``flow_subjects``, ``flow_categories``)
are always their definitions computed from the events there: after any cut of the log into
batches, events recorded late or twice, identity links, completed erasures that forget a
component (and data collected again after), a rebuild, and the migration of an older
projection. The observed flows answered from them
are the flows answered from the events alone, at every time asked. After every batch, the
projection is the one a replay of the log so far gives, whatever order a request's
completions were recorded in (forgetting gives rows back when an earlier one comes late)."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lineage.codec import default_codec
from lineage.config import resolve
from lineage.events.model import (
    DataCollected,
    DataShared,
    DataTransferred,
    ErasureCompleted,
    ErasureRequested,
    Event,
    IdentityLinked,
)
from lineage.log.base import LogRecord
from lineage.projection.projector import Projector
from lineage.projection.queries import expand, sql
from lineage.projection.store import Store
from lineage.services.app import App
from lineage.services.company import Company, company
from lineage.services.whohas import who_has

REFS = [f"{n:x}" * 64 for n in range(10, 15)]
START = datetime(2020, 1, 1, tzinfo=UTC)
TIMES = [START + timedelta(days=d) for d in (-1, 40, 200, 400, 10_000)]
AS_OF = START + timedelta(days=600)
PURPOSES = ["essential.service", "marketing.advertising", None]
HOLDERS = ["webshop", "crm", "mailer"]
# The definitions the tables keep (queries/flow_subjects_fill.sql).
FLOW = "event_type, purpose, legal_basis, holder, from_holder, role, country, mechanism"
SUBJECTS = f"""
SELECT {FLOW}, subject_ref, min(occurred_at)
FROM events
WHERE event_type IN ('DataCollected', 'DataShared', 'DataTransferred')
GROUP BY ALL
ORDER BY ALL
"""
CATEGORIES = f"""
SELECT {FLOW}, category, min(occurred_at)
FROM (
    SELECT {FLOW}, occurred_at, unnest(categories) AS category
    FROM events
    WHERE event_type IN ('DataCollected', 'DataShared', 'DataTransferred')
)
GROUP BY ALL
ORDER BY ALL
"""

_ref = st.sampled_from(REFS)
_day = st.integers(0, 500)
_holder = st.sampled_from(HOLDERS)
_cats = st.lists(
    st.sampled_from(["user.contact.email", "user.name", "user.device.ip_address"]),
    min_size=1,
    max_size=2,
    unique=True,
).map(tuple)


def _when(day: int) -> datetime:
    return START + timedelta(days=day)


@st.composite
def _event(draw: st.DrawFn) -> list[Event]:
    ref, at = draw(_ref), _when(draw(_day))
    kind = draw(st.sampled_from(["collected", "shared", "transferred", "link", "erasure"]))
    common = {"subject_ref": ref, "occurred_at": at, "source": "test"}
    if kind == "collected":
        purpose = draw(st.sampled_from(PURPOSES[:2]))
        return [
            DataCollected(
                **common,
                categories=draw(_cats),
                system=draw(_holder),
                purpose=purpose,
                legal_basis=draw(st.sampled_from(["contract", "consent"])),
                data_subject="customer",
            )
        ]
    if kind == "shared":
        return [
            DataShared(
                **common,
                categories=draw(_cats),
                from_holder=draw(_holder),
                recipient=draw(_holder),
                recipient_role="processor",
                purpose=draw(st.sampled_from(PURPOSES[:2])),
                legal_basis="contract",
                recipient_country=draw(st.sampled_from(["DK", None])),
            )
        ]
    if kind == "transferred":
        return [
            DataTransferred(
                **common,
                categories=draw(_cats),
                from_holder=draw(_holder),
                recipient="us-vendor",
                destination_country="US",
                mechanism=draw(st.sampled_from(["scc", "dpf"])),
                purpose=draw(st.sampled_from(PURPOSES)),
                legal_basis=draw(st.sampled_from(["contract", None])),
            )
        ]
    if kind == "link":
        return [IdentityLinked(**common, linked_ref=draw(_ref))]
    rid = f"r-{draw(st.integers(0, 3))}"
    # Several completions of one request, at any times, recorded in any order: a retried
    # confirmation, a connector's late report.
    done = [
        ErasureCompleted(subject_ref=ref, occurred_at=_when(d), source="test", request_id=rid)
        for d in draw(st.lists(_day, min_size=1, max_size=3))
    ]
    return [ErasureRequested(**common, request_id=rid, received_at=at), *done]


def _kept(store: Store, table: str = "flow_subjects") -> list[tuple[object, ...]]:
    columns = "* EXCLUDE (pair_key)" if table == "flow_subjects" else "*"
    return store.con.execute(f"SELECT {columns} FROM {table} ORDER BY ALL").fetchall()


def _flows(store: Store, query: str, as_of: datetime) -> list[tuple[object, ...]]:
    rows = store.con.execute(sql(query), {"as_of": as_of.replace(tzinfo=None)}).fetchall()
    return [(*r[:-1], sorted(r[-1])) for r in rows]  # categories in any order


def _events(store: Store) -> list[tuple[object, ...]]:
    return store.con.execute("SELECT * FROM events ORDER BY ALL").fetchall()


def _sums(c: Company) -> tuple[object, ...]:
    return (c.subjects, c.overdue, c.transfers, c.consent)


def _same_as_a_replay(app: App, store: Store, positions: dict[int, int]) -> None:
    """The projection kept batch by batch is the one replay of the log up to ``positions``
    gives: events, kept flow pairs, every subject's who-has, and the company-wide sums from
    its kept summaries (the forgotten and given back components marked for folding)."""
    upto = sum(1 for e in app.log.read() if e.offset < positions.get(e.partition, 0))
    with Store() as replay:
        Projector(replay, app.log, default_codec(), batch_size=10**6).run(limit=upto)
        assert _events(store) == _events(replay)
        assert _kept(store) == _kept(replay)
        assert _kept(store, "flow_categories") == _kept(replay, "flow_categories")
        for ref in REFS:
            assert who_has(store, [ref], AS_OF) == who_has(replay, [ref], AS_OF)
        assert _sums(company(store, AS_OF)) == _sums(company(replay, AS_OF, keep=False))


def _check(store: Store) -> None:
    assert _kept(store) == store.con.execute(SUBJECTS).fetchall()
    keyed = expand("SELECT count(*) FROM flow_subjects WHERE pair_key <> @PAIR_KEY")
    assert store.con.execute(keyed).fetchall() == [(0,)]
    assert _kept(store, "flow_categories") == store.con.execute(CATEGORIES).fetchall()
    for as_of in TIMES:
        assert _flows(store, "observed_flows", as_of) == _flows(
            store, "observed_flows_events", as_of
        )


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    groups=st.lists(_event(), min_size=1, max_size=40),
    batch_size=st.integers(1, 12),
    repeats=st.integers(0, 5),
    late=st.lists(st.tuples(st.integers(0, 100), st.integers(1, 300)), max_size=4),
)
def test_kept_pairs_are_their_definition_after_batches_forgets_and_a_rebuild(
    tmp_path_factory: object,
    groups: list[list[Event]],
    batch_size: int,
    repeats: int,
    late: list[tuple[int, int]],
) -> None:
    codec = default_codec()
    events = [e for g in groups for e in g]
    for i, days in late:  # the same flow again, recorded last, occurred earlier
        e = events[i % len(events)]
        earlier = e.occurred_at - timedelta(days=days)
        events.append(replace(e, event_id=uuid.uuid4(), occurred_at=earlier))
    events += events[:repeats]  # delivered twice: projected once
    home = Path(tmp_path_factory.mktemp("flows")) / "home"  # type: ignore[attr-defined]
    app = App(resolve(home))
    app.init()
    app.log.append(LogRecord(codec.encode(e), e.subject_ref.encode()) for e in events)
    with app.store() as store:
        Projector(store, app.log, codec, batch_size=batch_size).run(
            on_batch=lambda result: _same_as_a_replay(app, store, result.positions)
        )
        _check(store)
        batches = _events(store)
    app.rebuild()  # the bulk load, then the pairs in one pass
    with app.store() as store:
        _check(store)
        assert _events(store) == batches
    app.close()


def test_an_older_projection_gets_its_pairs_from_its_events(tmp_path: Path) -> None:
    codec = default_codec()
    ref = REFS[0]
    events = [
        DataCollected(
            subject_ref=ref,
            occurred_at=_when(d),
            source="test",
            categories=("user.name",),
            system="crm",
            purpose="essential.service",
            legal_basis="contract",
            data_subject="customer",
        )
        for d in (5, 3)
    ]
    app = App(resolve(tmp_path / "home"))
    app.init()
    app.log.append(LogRecord(codec.encode(e), ref.encode()) for e in events)
    with app.store() as store:
        app.catch_up(store)
    path = app.settings.projection_path
    con = duckdb.connect(str(path))
    con.execute("DROP TABLE flow_subjects")
    con.execute("DROP TABLE flow_categories")
    con.execute("UPDATE meta SET value = '5' WHERE key = 'schema_version'")
    con.close()
    with Store(path, read_only=True) as store:  # not migrated: answered from the events
        from lineage.services.evidence import observed_flows

        (flow,) = observed_flows(store, _when(10))
        assert (flow.subjects, flow.events) == (1, 2)
    with app.store() as store:
        _check(store)
        assert [r[-1] for r in _kept(store)] == [_when(3).replace(tzinfo=None)]
