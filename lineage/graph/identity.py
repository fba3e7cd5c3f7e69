"""The identity graph held warm by ``lineage serve`` (NetworkX): which subject references
are linked, so that an answer about a subject finds its identity component without a query
per hop.

The follower adds each batch's links after committing it, with where in the log each link
was recorded. A request reads through a snapshot of the projection that may be older than
the graph (the follower went on meanwhile): it sees only the links recorded before that
snapshot's positions, so its answer is the one the snapshot's own ``identity_links`` would
give. A graph that has not caught up with the snapshot answers None (ask the projection).
Links are only ever added (a rebuild starts the service over).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from datetime import datetime

# Where a link was recorded: (partition, offset); links present when the graph was loaded
# are before every snapshot.
BEFORE_ALL = (-1, -1)

Link = tuple[str, str, datetime]


class IdentityGraph:
    def __init__(self, positions: Mapping[int, int]) -> None:
        import networkx as nx

        self._graph: nx.Graph = nx.Graph()
        self._lock = threading.Lock()
        # The projection's positions the graph holds every link before.
        self.positions: dict[int, int] = dict(positions)

    def add(
        self,
        links: Iterable[tuple[str, str, datetime, tuple[int, int]]],
        positions: Mapping[int, int],
    ) -> None:
        """Links (a, b, when recorded, (partition, offset)), then the positions the graph now
        holds every link before."""
        with self._lock:
            adj = self._graph.adj
            for a, b, at, where in links:
                if b in adj.get(a, ()):
                    adj[a][b]["links"].append((at, where))
                else:
                    self._graph.add_edge(a, b, links=[(at, where)])
            self.positions = {**self.positions, **positions}

    def links(self, refs: list[str], projected: Mapping[int, int]) -> list[Link] | None:
        """Every identity link reachable from ``refs`` in a snapshot holding ``projected``
        (what ``services.whohas.identity_links`` finds there), or None when the graph does
        not hold all of that snapshot's links yet."""
        found: list[Link] = []
        with self._lock:
            if any(self.positions.get(p, -1) < end for p, end in projected.items()):
                return None

            def seen(where: tuple[int, int]) -> bool:
                return where == BEFORE_ALL or where[1] < projected.get(where[0], -1)

            adj = self._graph.adj
            todo, asked = list(refs), set(refs)
            while todo:
                ref = todo.pop()
                for linked, data in adj.get(ref, {}).items():
                    recorded = [at for at, where in data["links"] if seen(where)]
                    if not recorded:
                        continue
                    found.extend((ref, linked, at) for at in recorded)
                    if linked not in asked:
                        asked.add(linked)
                        todo.append(linked)
        return found
