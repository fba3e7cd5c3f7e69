"""The flows of one subject's data as a directed graph of holders.

Nodes are holders; an edge ``a -> b`` means data went from a to b (shared or transferred).
A virtual source node stands for the data subject and points at every system that collected
from them. The path that explains how data reached a holder is a shortest path from it.
"""

from __future__ import annotations

import networkx as nx

SUBJECT = "\x00subject"


class FlowGraph:
    def __init__(self) -> None:
        self.g: nx.DiGraph = nx.DiGraph()
        self.g.add_node(SUBJECT)

    def collected(self, system: str) -> None:
        self.g.add_edge(SUBJECT, system)

    def flowed(self, source: str, recipient: str, kind: str) -> None:
        if not self.g.has_edge(source, recipient):
            self.g.add_edge(source, recipient, kind=kind)

    def path(self, holder: str) -> list[str]:
        """Holders from the collecting system to ``holder``. A holder whose origin was never
        recorded starts its own path."""
        if holder not in self.g:
            return [holder]
        g = self.g
        roots = [n for n in g.nodes if n != SUBJECT and g.in_degree(n) == 0]
        if roots:
            g = g.copy()
            g.add_edges_from((SUBJECT, r) for r in roots)
        try:
            path: list[str] = nx.shortest_path(g, SUBJECT, holder)
        except nx.NetworkXNoPath:
            return [holder]
        return path[1:]

    def downstream(self, holder: str) -> set[str]:
        return set(nx.descendants(self.g, holder)) if holder in self.g else set()
