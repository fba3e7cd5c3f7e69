"""A who-has in the service waits for the appends that concern its subject (or that the
service cannot account for), not for every batch other clients are ingesting."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

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
    settings = replace(resolve(home), lock_timeout=1.0)
    runtime = Runtime(settings)
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
        other = App(settings)
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
