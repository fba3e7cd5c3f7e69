"""The flows of one subject's data as a directed graph of holders, answered by NetworkX.

Nodes are holders; an edge ``a -> b`` means data went from a to b (shared or transferred).
A virtual source node stands for the data subject and points at every system that collected
from them. The path that explains how data reached a holder is NetworkX's shortest path from
it; onward chains are its descendants; erasure runs deepest holder first.

The fold only records edges (cheap for every subject of a company-wide audit); the NetworkX
graph is built on the first question asked.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import networkx as nx

SUBJECT = "\x00subject"


class FlowGraph:
    def __init__(self) -> None:
        self.edges: dict[tuple[str, str], str | None] = {}
        self._graph: nx.DiGraph | None = None

    def collected(self, system: str) -> None:
        self._edge(SUBJECT, system, None)

    def flowed(self, source: str, recipient: str, kind: str) -> None:
        self._edge(source, recipient, kind)

    def _edge(self, source: str, target: str, kind: str | None) -> None:
        if (source, target) not in self.edges:
            self.edges[(source, target)] = kind
            self._graph = None

    def to_networkx(self) -> nx.DiGraph:
        """The graph, with the subject linked to every holder whose origin was never
        recorded (so each holder has a path, starting there)."""
        if self._graph is None:
            import networkx as nx

            g: nx.DiGraph = nx.DiGraph()
            g.add_node(SUBJECT)
            for (source, target), kind in self.edges.items():
                g.add_edge(source, target, **({"kind": kind} if kind else {}))
            roots = [n for n in g if n != SUBJECT and g.in_degree(n) == 0]
            g.add_edges_from((SUBJECT, r) for r in roots)
            self._graph = g
        return self._graph

    def __contains__(self, node: object) -> bool:
        return node in self.to_networkx()

    def path(self, holder: str) -> list[str]:
        """Holders from the collecting system to ``holder``."""
        import networkx as nx

        g = self.to_networkx()
        if holder not in g:
            return [holder]
        try:
            return list(nx.shortest_path(g, SUBJECT, holder))[1:]
        except nx.NetworkXNoPath:  # only through a cycle of recipients
            return [holder]

    def depths(self) -> dict[str, int]:
        """How many hops each holder is from the subject: erasure runs deepest first."""
        import networkx as nx

        return dict(nx.single_source_shortest_path_length(self.to_networkx(), SUBJECT))

    def downstream(self, holder: str) -> set[str]:
        """Every holder reachable from ``holder``: its onward chain."""
        import networkx as nx

        g = self.to_networkx()
        return set(nx.descendants(g, holder)) if holder in g else set()
