"""The service's writer: appends that arrive while another is being made durable are made
durable together, with one commit's fsyncs, and none returns before its own commit is
durable. The kept summaries' steps wait while appends keep coming."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from lineage.codec import default_codec
from lineage.config import resolve
from lineage.events.model import Event
from lineage.ingest.record import from_json, parser_for
from lineage.log.base import AppendResult
from lineage.log.file import FileLog
from lineage.serve.runtime import Encoded, Runtime
from lineage.services.app import App
from tests.conftest import collected, shared
from tests.serve.conftest import cli


def events(app: App, *objs: dict[str, Any]) -> list[Event]:
    return list(from_json(parser_for(app), json.dumps(list(objs)), "body").events)


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[Runtime]:
    home = tmp_path / "home"
    assert cli(home, "init").returncode == 0
    # A short idle period, for the summaries' rule below.
    runtime = Runtime(replace(resolve(home), max_latency=0.05))
    try:
        yield runtime
    finally:
        runtime.close()


def test_appends_queued_behind_a_commit_share_the_next_one(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    fsyncs: list[int] = []
    real_fsync = os.fsync

    def counted(fd: int) -> None:
        real_fsync(fd)
        fsyncs.append(fd)

    monkeypatch.setattr(os, "fsync", counted)
    writer = runtime.writer
    real_append = writer.append_all
    gate = threading.Event()
    commits: list[int] = []  # fsyncs done when each commit began

    def held(items: Iterable[Encoded]) -> AppendResult:
        commits.append(len(fsyncs))
        if len(commits) == 1:  # the first commit stays in progress until the others queue
            assert gate.wait(10)
        return real_append(items)

    writer.append_all = held
    app = runtime.app()
    returned: dict[str, tuple[int, AppendResult]] = {}

    def post(name: str, email: str) -> None:
        result = app.append(events(app, collected(email), shared(email)))
        returned[name] = (len(fsyncs), result)

    first = threading.Thread(target=post, args=("a", "a@example.com"))
    first.start()
    deadline = time.monotonic() + 10
    while not commits:
        assert time.monotonic() < deadline
        time.sleep(0.005)
    others = [threading.Thread(target=post, args=(n, f"{n}@example.com")) for n in "bc"]
    for t in others:
        t.start()
    while True:  # both queued behind the commit in progress
        with writer._cond:
            if len(writer._queue) == 2:
                break
        assert time.monotonic() < deadline
        time.sleep(0.005)
    assert returned == {} and fsyncs == []
    gate.set()
    for t in [first, *others]:
        t.join(10)

    # Two commits: a's, then b's and c's together, with as many fsyncs as a's alone.
    assert len(commits) == 2
    per_commit = commits[1]
    assert per_commit > 0 and len(fsyncs) == 2 * per_commit
    # Each returned only once its commit was durable.
    assert returned["a"][0] >= per_commit
    assert returned["b"][0] == returned["c"][0] == 2 * per_commit
    assert all(result.count == 2 for _, result in returned.values())
    assert returned["b"][1].end == returned["c"][1].end == runtime.log_ends()
    log = FileLog(runtime.settings.home / "log")
    try:
        logged = [default_codec().decode(e.value) for e in log.read() if e.value is not None]
    finally:
        log.close()
    assert len(logged) == 6


def test_no_summary_step_while_appends_keep_coming(runtime: Runtime) -> None:
    """Between two ingest requests no request may be in hand; the steps still wait until
    nothing was appended for one of the follower's idle periods."""
    assert runtime.quiet()
    app = runtime.app()
    app.append(events(app, collected()))
    assert not runtime.quiet()
    time.sleep(runtime.follower.idle * 2)
    assert runtime.quiet()


def test_a_request_in_hand_holds_the_steps_back_without_the_access_log(
    runtime: Runtime,
) -> None:
    """Requests in hand are counted by the layer the service always has (``Limits``), not
    by the access log, which ``--no-access-log`` leaves out: a step never starts while a
    request is being answered, whichever layers the service runs."""
    import asyncio

    from lineage.serve.http import Limits

    seen: list[bool] = []

    async def answer(scope: Any, receive: Any, send: Any) -> None:
        seen.append(runtime.quiet())
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    app = Limits(
        answer,
        max_body=1024,
        large_body_paths=frozenset(),
        max_large_body=1024,
        body_timeout=1.0,
    )

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Any) -> None:
        pass

    scope = {"type": "http", "path": "/v1/status", "method": "GET", "headers": []}
    assert runtime.quiet()
    asyncio.run(app(scope, receive, send))
    assert seen == [False] and runtime.quiet()
