"""``services.subjects.linked``: the identity components of the links recorded up to a time,
and each component's latest link, are what a graph of the links gives (NetworkX's connected
components, the reference they are checked against), for any set of links."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import networkx as nx
from hypothesis import given, settings
from hypothesis import strategies as st

from lineage.projection.store import Store
from lineage.services.subjects import linked

START = datetime(2026, 1, 1, tzinfo=UTC)
REFS = [f"{i:02x}" * 32 for i in range(12)]  # 64 characters, as pseudonyms are

links = st.lists(
    st.tuples(st.sampled_from(REFS), st.sampled_from(REFS), st.integers(0, 30)).filter(
        lambda t: t[0] != t[1]
    ),
    max_size=25,
)


@settings(max_examples=60, deadline=None)
@given(links=links, asked=st.integers(0, 31))
def test_components_and_latest_links_are_the_graphs(
    links: list[tuple[str, str, int]], asked: int
) -> None:
    as_of = START + timedelta(days=asked)
    with Store() as store:
        for a, b, day in links:
            lo, hi = sorted((a, b))  # the projection keeps links in both directions
            at = (START + timedelta(days=day)).replace(tzinfo=None)
            store.con.execute("INSERT INTO identity_links VALUES (?, ?, ?)", [lo, hi, at])
            store.con.execute("INSERT INTO identity_links VALUES (?, ?, ?)", [hi, lo, at])
        comps, latest = linked(store, as_of)
    g: nx.Graph = nx.Graph()
    times: dict[frozenset[str], datetime] = {}
    for a, b, day in links:
        at = START + timedelta(days=day)
        if at <= as_of:
            g.add_edge(a, b)
            key = frozenset((a, b))
            times[key] = max(times.get(key, at), at)
    want: dict[str, list[str]] = {}
    want_latest: dict[str, datetime] = {}
    for component in nx.connected_components(g):
        refs = sorted(component)
        for ref in refs:
            want[ref] = refs
        want_latest[refs[0]] = max(t for k, t in times.items() if k <= component)
    assert comps == want
    assert latest == want_latest
    assert all(t.tzinfo is not None for t in latest.values())
