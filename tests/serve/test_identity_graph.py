"""The service's warm identity graph answers what the projection's ``identity_links`` answers
in the same snapshot, however far the follower got past it."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from lineage.config import resolve
from lineage.events.model import Event
from lineage.graph.identity import BEFORE_ALL, IdentityGraph
from lineage.ingest.record import from_json, parser_for
from lineage.serve.runtime import Runtime, ServeApp
from lineage.services.app import App
from lineage.services.whohas import component_of, identity_links, who_has
from lineage.timeutil import now
from tests.conftest import collected, shared
from tests.serve.conftest import cli

REFS = ["a", "b", "c", "d", "e", "f"]
T0 = datetime(2024, 1, 1, tzinfo=UTC)


def walk(
    links: list[tuple[str, str, datetime]], refs: list[str]
) -> list[tuple[str, str, datetime]]:
    """``identity_links``'s walk over both directions of ``links``."""
    both = [*links, *((b, a, at) for a, b, at in links)]
    found, todo, asked = [], list(refs), set(refs)
    while todo:
        ref = todo.pop()
        for a, b, at in both:
            if a == ref:
                found.append((a, b, at))
                if b not in asked:
                    asked.add(b)
                    todo.append(b)
    return found


def edges(links: list[tuple[str, str, datetime]]) -> set[tuple[frozenset[str], datetime]]:
    return {(frozenset((a, b)), at) for a, b, at in links}


links_st = st.lists(
    st.tuples(st.sampled_from(REFS), st.sampled_from(REFS), st.integers(0, 30)), max_size=15
)


@settings(max_examples=300, deadline=None)
@given(
    loaded=links_st,
    later=links_st,
    cut=st.integers(0, 16),
    asked=st.lists(st.sampled_from(REFS), min_size=1, max_size=3, unique=True),
    as_of=st.integers(0, 30),
)
def test_the_graph_answers_as_the_snapshot_would(
    loaded: list[tuple[str, str, int]],
    later: list[tuple[str, str, int]],
    cut: int,
    asked: list[str],
    as_of: int,
) -> None:
    """Links loaded at start, then one per log offset; a snapshot holding offsets before
    ``cut`` sees those and no later one: the same links reached, the same component."""
    day = [(a, b, T0 + timedelta(days=d)) for a, b, d in loaded]
    added = [(a, b, T0 + timedelta(days=d)) for a, b, d in later]
    graph = IdentityGraph({0: 0})
    graph.add(((a, b, at, BEFORE_ALL) for a, b, at in day), {})
    graph.add(((a, b, at, (0, i)) for i, (a, b, at) in enumerate(added)), {0: len(added)})
    cut = min(cut, len(added))
    visible = day + added[:cut]
    found = graph.links(asked, {0: cut})
    assert found is not None
    assert edges(found) == edges(walk(visible, asked))
    when = T0 + timedelta(days=as_of)
    assert component_of(asked, found, when) == component_of(asked, visible, when)
    # A snapshot past what the graph holds: the graph does not answer.
    assert graph.links(asked, {0: len(added) + 1}) is None
    assert graph.links(asked, {1: 1}) is None


def events(app: App, *objs: dict[str, Any]) -> list[Event]:
    return list(from_json(parser_for(app), json.dumps(list(objs)), "body").events)


def test_the_follower_keeps_the_graph_as_the_projection(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert cli(home, "init").returncode == 0
    config = replace(resolve(home), lock_timeout=5.0)
    first = App(config)
    try:  # links projected before the service starts: loaded with the graph
        first.append(
            events(
                first,
                collected(
                    "p@example.com", subject={"email": "p@example.com", "customer_number": "1"}
                ),
            )
        )
    finally:
        first.close()
    runtime = Runtime(config)
    try:
        runtime.follower.catch_up()
        runtime.follower.start()
        app = runtime.app()
        # Links the follower projects while serving, in several batches: a chain q - 2 - r.
        app.append(
            events(
                app,
                collected(
                    "q@example.com", subject={"email": "q@example.com", "customer_number": "2"}
                ),
            )
        )
        app.append(
            events(
                app,
                shared("r@example.com", subject={"email": "r@example.com", "customer_number": "2"}),
            )
        )
        app.append(events(app, collected("s@example.com")))
        ends = runtime.log_ends()
        runtime.wait_for(ends, 5.0)
        deadline = time.monotonic() + 5
        while runtime.follower.graph is not None and runtime.follower.graph.positions != ends:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        graph = runtime.follower.graph
        assert graph is not None
        for email in ("p@example.com", "q@example.com", "r@example.com", "s@example.com"):
            refs = app.refs_for([("email", email)])
            with runtime.snapshot() as store:
                warm = graph.links(refs, store.positions())
                assert warm is not None
                cold = identity_links(store, refs)
                assert edges(warm) == edges(cold)
                when = now()
                assert who_has(store, refs, when, None, warm) == who_has(store, refs, when)
        # q and r share a customer number: one component of three references.
        refs = app.refs_for([("email", "q@example.com")])
        with runtime.snapshot() as store:
            served: ServeApp = app
            assert len(component_of(refs, served.identity_links(store, refs), now())) == 3
    finally:
        runtime.close()
