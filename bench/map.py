"""The data map's DOT in English and in Danish, against drawing the same graph with fixed
labels (the ``graphviz`` package's own cost): what the words of a map cost per language.

A company map of ``--edges`` recipients outside the EEA (one invalid transfer in ten), each
edge with categories, a legal basis, counts and dates; ``to_dot(m, lang)`` best of
``--repeat`` runs per language, interleaved with the baseline.

    python bench/map.py --edges 2000
    python bench/map.py --quick
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import save, table


def company(edges: int) -> Any:
    from lineage.graph.datamap import DataMap, MapEdge, MapNode
    from lineage.rules.transfers import validity

    day = datetime(2019, 5, 6, tzinfo=UTC)
    invalid = validity("privacy_shield", "US", day, datetime(2025, 1, 1, tzinfo=UTC)).parts
    m = DataMap(datetime(2025, 1, 1, tzinfo=UTC))
    m.nodes["db"] = MapNode("db", "own", country="DK")
    for i in range(edges):
        m.nodes[f"r{i}"] = MapNode(f"r{i}", "processor", country="US", outside_eea=True)
        m.edges.append(
            MapEdge(
                "db",
                f"r{i}",
                categories=["user.contact.email", "user.name"],
                legal_bases=["contract"],
                purposes=["essential.service"],
                subjects=1000 + i,
                events=5000 + i,
                first_seen=day,
                last_seen=day,
                invalid=[invalid] if i % 10 == 0 else [],
                mechanisms=[] if i % 10 == 0 else ["scc"],
            )
        )
    return m


def fixed_labels(m: Any) -> str:
    """The same nodes and edges through ``graphviz`` with constant labels."""
    import graphviz

    g = graphviz.Digraph("datamap")
    ids = {name: f"n{i}" for i, name in enumerate(m.nodes)}
    for name in m.nodes:
        g.node(ids[name], label=name)
    for e in m.edges:
        g.edge(ids[e.source], ids[e.target], label="label", tooltip="tooltip")
    return str(g.source)


def best(fn: Any, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        fn()
        times.append(time.perf_counter() - began)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edges", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="200 edges, 3 runs")
    args = parser.parse_args()
    if args.quick:
        args.edges, args.repeat = 200, 3
    from lineage.graph.datamap import to_dot

    m = company(args.edges)
    for lang in ("en", "da"):  # catalogs read, caches warm
        to_dot(m, lang)
    fixed_labels(m)
    runs = {"baseline": 0.0, "en": 0.0, "da": 0.0}
    for _ in range(2):  # interleaved: a load spike hits all three alike
        runs["baseline"] = best(lambda: fixed_labels(m), args.repeat)
        runs["en"] = best(lambda: to_dot(m, "en"), args.repeat)
        runs["da"] = best(lambda: to_dot(m, "da"), args.repeat)
    base = runs["baseline"]
    rows = [
        [what, f"{seconds * 1000:.1f} ms", f"{seconds / base:.2f}"]
        for what, seconds in runs.items()
    ]
    print(table(rows, ["DOT of the map", "best time", "ratio to baseline"]))
    print(f"da / en: {runs['da'] / runs['en']:.2f}")
    print(f"saved {save('map', {'edges': args.edges, 'seconds': runs})}")


if __name__ == "__main__":
    main()
