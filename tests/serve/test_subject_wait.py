"""A who-has in the service waits for the appends that concern its subject (or that the
service cannot account for), not for every batch other clients are ingesting."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lineage.config import resolve
from lineage.events.model import Event
from lineage.ingest.record import from_json, parser_for
from lineage.serve.runtime import Busy, Runtime, ServeApp
from lineage.services.app import App
from lineage.services.whohas import who_has
from lineage.timeutil import now
from tests.conftest import collected, shared
from tests.serve.conftest import cli

X, Y, W = "x@example.com", "y@example.com", "w@example.com"


def events(app: App, *objs: dict[str, Any]) -> list[Event]:
    return list(from_json(parser_for(app), json.dumps(list(objs)), "body").events)


def holders(app: ServeApp, email: str) -> list[str]:
    refs = app.refs_for([("email", email)])
    with app.subject_store(refs) as store:
        return sorted(h["holder"] for h in who_has(store, refs, now(), None)["holders"])


def test_an_answer_waits_only_for_what_concerns_its_subject(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert cli(home, "init").returncode == 0
    config = replace(resolve(home), lock_timeout=1.0)
    runtime = Runtime(config)
    try:
        runtime.follower.catch_up()  # its thread is not started: nothing new is projected
        app = runtime.app()
        app.append(events(app, collected(W)))
        assert app.pending(runtime.store) > 0

        # Nothing pending concerns X or Y: they are answered at once; W must wait.
        assert holders(app, X) == holders(app, Y) == []
        with pytest.raises(Busy):
            holders(app, W)

        # Y linked to a customer number, and X's own events: now both wait.
        linked = collected(Y, subject={"email": Y, "customer_number": "7"})
        app.append(events(app, linked, collected(X), shared(X)))
        for email in (X, Y):
            with pytest.raises(Busy):
                holders(app, email)
        assert holders(app, "z@example.com") == []

        # Events another process appended: the service cannot tell whose, everyone waits.
        other = App(config)
        try:
            other.append(events(other, collected("v@example.com")))
        finally:
            other.close()
        with pytest.raises(Busy):
            holders(app, "z@example.com")

        # Once projected, every answer holds what was acknowledged before it.
        runtime.follower.start()
        assert holders(app, X) == ["e-conomic", "webshop-db"]
        assert holders(app, Y) == ["webshop-db"]
        assert holders(app, W) == ["webshop-db"]
        assert holders(app, "v@example.com") == ["webshop-db"]
    finally:
        runtime.close()


SUBJECTS = ["a", "b", "c", "d"]
# One append: (size, whose: None for another process, else the subjects it touches).
appends_st = st.lists(
    st.tuples(
        st.integers(1, 5),
        st.one_of(st.none(), st.frozensets(st.sampled_from(SUBJECTS), min_size=1)),
    ),
    max_size=12,
)


@settings(max_examples=300, deadline=None)
@given(
    appends=appends_st,
    before=st.integers(0, 10),
    projected_at=st.integers(0, 80),
    asked=st.sets(st.sampled_from(SUBJECTS), min_size=1),
)
def test_an_answer_never_misses_what_concerns_it(
    appends: list[tuple[int, frozenset[str] | None]],
    before: int,
    projected_at: int,
    asked: set[str],
) -> None:
    """Whatever mix of the service's appends and other processes' appends, and however far
    the follower got: the offset an answer waits for covers every unprojected record that
    touches its subjects or that came from elsewhere."""
    from lineage.log.base import AppendResult
    from lineage.serve.runtime import Unprojected

    start = 8  # the log's first offset
    unprojected = Unprojected({0: start})
    pos = start + before  # records another process appended before the service started
    records = [(start, pos, None)] if before else []
    for size, refs in appends:
        end = pos + size
        records.append((pos, end, refs))
        if refs is not None:  # the service's own append
            unprojected.appended(AppendResult(1, {0: end}, {0: pos}), refs, {0: start})
        pos = end
    projected = min(start + projected_at, pos)
    if not any(end == projected or begin == projected for begin, end, _ in records):
        projected = start  # the follower stops between records only
    targets = unprojected.targets(asked, {0: pos}, {0: projected})
    for begin, end, refs in records:
        if end > projected and (refs is None or refs & asked):
            assert targets.get(0, 0) >= end, (begin, end, refs)
