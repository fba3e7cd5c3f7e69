"""The flow graph (NetworkX): paths explain how data got somewhere, onward chains, depths."""

from __future__ import annotations

from collections import deque
from itertools import pairwise

from hypothesis import given, settings
from hypothesis import strategies as st

from lineage.graph.flows import FlowGraph

HOLDERS = st.sampled_from(["db", "crm", "erp", "mail", "aws", "gcp", "pay", "ship"])
STEPS = st.lists(
    st.one_of(
        st.tuples(st.just("collected"), HOLDERS),
        st.tuples(st.just("flowed"), HOLDERS, HOLDERS),
    ),
    max_size=25,
)


def _distance(starts: set[str], edges: set[tuple[str, str]], holder: str) -> int | None:
    """Hops from the nearest start to ``holder`` (an independent breadth-first search)."""
    seen = {s: 1 for s in starts}
    todo = deque(starts)
    while todo:
        n = todo.popleft()
        for a, b in edges:
            if a == n and b not in seen:
                seen[b] = seen[n] + 1
                todo.append(b)
    return seen.get(holder)


@settings(max_examples=200, deadline=None)
@given(STEPS)
def test_paths_are_shortest_explanations(steps: list[tuple[str, ...]]) -> None:
    graph = FlowGraph()
    collected: set[str] = set()
    edges: set[tuple[str, str]] = set()
    for step in steps:
        if step[0] == "collected":
            graph.collected(step[1])
            collected.add(step[1])
        elif step[1] != step[2]:
            graph.flowed(step[1], step[2], "DataShared")
            edges.add((step[1], step[2]))
    nodes = collected | {n for e in edges for n in e}
    targets = {b for _, b in edges}
    starts = collected | {n for n in nodes if n not in targets}
    depths = graph.depths()
    for holder in nodes:
        path = graph.path(holder)
        assert path[-1] == holder
        assert all((a, b) in edges for a, b in pairwise(path))
        expected = _distance(starts, edges, holder)
        if expected is not None:
            assert path[0] in starts and len(path) == expected == depths[holder]
        reach = {b for a, b in edges if a == holder}
        assert reach <= graph.downstream(holder)


def test_onward_chain_and_unknown_origin() -> None:
    graph = FlowGraph()
    graph.collected("webshop-db")
    graph.flowed("webshop-db", "mailchimp", "DataTransferred")
    graph.flowed("mailchimp", "aws", "DataTransferred")
    graph.flowed("partner", "crm", "DataShared")
    assert graph.path("aws") == ["webshop-db", "mailchimp", "aws"]
    assert graph.path("crm") == ["partner", "crm"]
    assert graph.path("nowhere") == ["nowhere"]
    assert graph.downstream("webshop-db") == {"mailchimp", "aws"}
    assert graph.depths()["aws"] == 3
