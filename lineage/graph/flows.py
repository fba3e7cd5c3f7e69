"""The flows of one subject's data as a directed graph of holders.

Nodes are holders; an edge ``a -> b`` means data went from a to b (shared or transferred).
A virtual source node stands for the data subject and points at every system that collected
from them. The path that explains how data reached a holder is a shortest path from it.

One subject's graph has a handful of nodes, and who-has must start fast, so this is plain
dicts rather than NetworkX (importing it costs more than the whole query). ``path`` walks the
graph exactly as ``networkx.shortest_path`` does (bidirectional breadth-first search over
adjacency in insertion order), so ties between equally short paths resolve the same way;
``to_networkx`` hands the graph to NetworkX for heavier topology work.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import networkx as nx

SUBJECT = "\x00subject"


class FlowGraph:
    def __init__(self) -> None:
        # Adjacency in insertion order, as networkx.DiGraph keeps it: succ[a][b] = edge data.
        self.succ: dict[str, dict[str, dict[str, Any]]] = {}
        self.pred: dict[str, dict[str, dict[str, Any]]] = {}
        self._add_node(SUBJECT)

    def _add_node(self, node: str) -> None:
        if node not in self.succ:
            self.succ[node] = {}
            self.pred[node] = {}

    def _add_edge(self, source: str, target: str, **data: Any) -> None:
        self._add_node(source)
        self._add_node(target)
        attrs = self.succ[source].setdefault(target, {})
        attrs.update(data)
        self.pred[target][source] = attrs

    def __contains__(self, node: object) -> bool:
        return node in self.succ

    def has_edge(self, source: str, target: str) -> bool:
        return target in self.succ.get(source, {})

    def collected(self, system: str) -> None:
        self._add_edge(SUBJECT, system)

    def flowed(self, source: str, recipient: str, kind: str) -> None:
        if not self.has_edge(source, recipient):
            self._add_edge(source, recipient, kind=kind)

    def path(self, holder: str) -> list[str]:
        """Holders from the collecting system to ``holder``. A holder whose origin was never
        recorded starts its own path."""
        if holder not in self.succ:
            return [holder]
        succ, pred = self.succ, self.pred
        roots = [n for n in succ if n != SUBJECT and not pred[n]]
        if roots:
            # As networkx does it: a copy (whose predecessor lists follow the order of the
            # successor lists, not the order edges were added), then SUBJECT -> each root.
            succ = {**succ, SUBJECT: {**succ[SUBJECT], **{r: {} for r in roots}}}
            pred = {node: {} for node in succ}
            for source, targets in self.succ.items():
                for target in targets:
                    pred[target][source] = {}
            for root in roots:
                pred[root][SUBJECT] = {}
        found = _bidirectional_path(succ, pred, SUBJECT, holder)
        return found[1:] if found is not None else [holder]

    def downstream(self, holder: str) -> set[str]:
        """Every holder reachable from ``holder``."""
        seen: set[str] = set()
        todo = [holder] if holder in self.succ else []
        while todo:
            for nxt in self.succ[todo.pop()]:
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        seen.discard(holder)
        return seen

    def to_networkx(self) -> nx.DiGraph:
        import networkx as nx

        g: nx.DiGraph = nx.DiGraph()
        g.add_nodes_from(self.succ)
        for source, targets in self.succ.items():
            for target, data in targets.items():
                g.add_edge(source, target, **data)
        return g


def _bidirectional_path(
    succ: dict[str, dict[str, Any]], pred: dict[str, dict[str, Any]], source: str, target: str
) -> list[str] | None:
    """networkx's ``bidirectional_shortest_path`` on adjacency dicts; None when no path."""
    if source == target:
        return [source]
    back: dict[str, str | None] = {source: None}  # towards the source
    ahead: dict[str, str | None] = {target: None}  # towards the target
    forward, reverse = [source], [target]
    meet: str | None = None
    while forward and reverse and meet is None:
        if len(forward) <= len(reverse):
            level, forward = forward, []
            for v in level:
                for w in succ[v]:
                    if w not in back:
                        forward.append(w)
                        back[w] = v
                    if w in ahead:
                        meet = w
                        break
                if meet is not None:
                    break
        else:
            level, reverse = reverse, []
            for v in level:
                for w in pred[v]:
                    if w not in ahead:
                        ahead[w] = v
                        reverse.append(w)
                    if w in back:
                        meet = w
                        break
                if meet is not None:
                    break
    if meet is None:
        return None
    path: list[str] = []
    node: str | None = meet
    while node is not None:
        path.append(node)
        node = back[node]
    path.reverse()
    node = ahead[path[-1]]
    while node is not None:
        path.append(node)
        node = ahead[node]
    return path
