"""The flow graph answers exactly as NetworkX would, ties between equal paths included."""

from __future__ import annotations

import networkx as nx
from hypothesis import given, settings
from hypothesis import strategies as st

from lineage.graph.flows import SUBJECT, FlowGraph

HOLDERS = st.sampled_from(["db", "crm", "erp", "mail", "aws", "gcp", "pay", "ship"])
STEPS = st.lists(
    st.one_of(
        st.tuples(st.just("collected"), HOLDERS),
        st.tuples(st.just("flowed"), HOLDERS, HOLDERS),
    ),
    max_size=25,
)


def reference_path(g: nx.DiGraph, holder: str) -> list[str]:
    """The NetworkX formulation the flow graph replaces."""
    if holder not in g:
        return [holder]
    roots = [n for n in g.nodes if n != SUBJECT and g.in_degree(n) == 0]
    if roots:
        g = g.copy()
        g.add_edges_from((SUBJECT, r) for r in roots)
    try:
        path: list[str] = nx.shortest_path(g, SUBJECT, holder)
    except nx.NetworkXNoPath:
        return [holder]
    return path[1:]


@settings(max_examples=300, deadline=None)
@given(STEPS, HOLDERS)
def test_paths_match_networkx(steps: list[tuple[str, ...]], extra: str) -> None:
    graph = FlowGraph()
    g: nx.DiGraph = nx.DiGraph()
    g.add_node(SUBJECT)
    for step in steps:
        if step[0] == "collected":
            graph.collected(step[1])
            g.add_edge(SUBJECT, step[1])
        else:
            graph.flowed(step[1], step[2], "DataShared")
            if not g.has_edge(step[1], step[2]):
                g.add_edge(step[1], step[2], kind="DataShared")
    for holder in [*g.nodes, extra]:
        if holder == SUBJECT:
            continue
        assert graph.path(holder) == reference_path(g, holder)
        expected = set(nx.descendants(g, holder)) if holder in g else set()
        assert graph.downstream(holder) == expected
    assert nx.utils.graphs_equal(graph.to_networkx(), g)


def test_onward_chain_and_unknown_origin() -> None:
    graph = FlowGraph()
    graph.collected("webshop-db")
    graph.flowed("webshop-db", "mailchimp", "DataTransferred")
    graph.flowed("mailchimp", "aws", "DataTransferred")
    graph.flowed("partner", "crm", "DataShared")
    assert graph.path("aws") == ["webshop-db", "mailchimp", "aws"]
    assert graph.path("crm") == ["partner", "crm"]
    assert graph.path("nowhere") == ["nowhere"]
