"""``lineage emit --file`` with its chunks prepared in worker processes: the same log, the
same counts, the same first error and nothing appended on any error, as in one process."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lineage.codec import default_codec
from lineage.config import resolve
from lineage.errors import LineageError
from lineage.ingest.record import Recorded, from_lines, parser_for, record
from lineage.log.file import FileLog
from lineage.serve.ingest import IngestPool, WorkerLost, file_chunks, record_file
from lineage.services.app import App
from tests.conftest import Lineage, collected, shared, transferred


def logged(home: Path, start: int = 0) -> list[dict[str, Any]]:
    """The events in the log from ``start``, without the time each was recorded at (the
    clock's, different in every run)."""
    codec = default_codec()
    log = FileLog(home / "log")
    try:
        events = [codec.decode(e.value) for e in log.read({0: start}) if e.value is not None]
    finally:
        log.close()
    for event in events:
        event["envelope"].pop("recorded_at")
    return events


def log_end(home: Path) -> int:
    log = FileLog(home / "log")
    try:
        return log.end_offsets()[0]
    finally:
        log.close()


def story(n: int) -> list[str]:
    """Lines about a few subjects, some with two identifiers (identity links) that recur."""
    kinds = (collected, shared, transferred)
    out = []
    for i in range(n):
        event = kinds[i % 3](email=f"user{i % 40}@example.com")
        if i % 4 == 0:
            event["subject"] = {"email": f"user{i % 40}@example.com", "phone": f"+4520{i % 7:06d}"}
        out.append(json.dumps(event))
    return out


def write(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines))
    return path


def emit(runner: Lineage, path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return runner.process("emit", "--file", str(path), *extra)


@pytest.fixture
def two(tmp_path: Path) -> tuple[Lineage, Lineage]:
    """Two homes with the same pseudonym key: the same references, the same event ids."""
    first = Lineage(tmp_path / "one")
    first.ok("init")
    second = Lineage(tmp_path / "two")
    second.ok("init")
    key = first.home / "pseudonym.key"
    (second.home / "pseudonym.key").write_bytes(key.read_bytes())
    return first, second


def test_same_log_and_counts_as_one_process(tmp_path: Path, two: tuple[Lineage, Lineage]) -> None:
    one, many = two
    # A link's pair recurs in later chunks: it is emitted once, as one pass does.
    path = write(tmp_path / "events.jsonl", story(600))
    said = []
    for fmt in ("table", "json"):
        alone = emit(one, path, "--workers", "0", "--format", fmt)
        chunked = emit(many, path, "--workers", "2", "--chunk-size", "4096", "--format", fmt)
        assert alone.returncode == chunked.returncode == 0, chunked.stderr
        assert chunked.stdout == alone.stdout
        assert chunked.stderr == alone.stderr == ""
        said.append(alone.stdout)
    assert said[0] == "appended 670 events (including 70 identity links)\n"
    assert json.loads(said[1])["identity_links"] == 70
    events = logged(one.home)
    assert len(events) == 2 * 670
    assert logged(many.home) == events
    links = [e for e in events if e["envelope"]["event_type"] == "IdentityLinked"]
    # Lines 4k pair user(4k % 40) with phone(4k % 7): 70 pairs, each linked once.
    assert len({e["envelope"]["event_id"] for e in links}) == len(links) // 2 == 70


def test_bad_line_same_error_nothing_appended(tmp_path: Path, two: tuple[Lineage, Lineage]) -> None:
    one, many = two
    lines = story(400)
    lines[333] = lines[333].replace("user.name", "user.nme")  # in a late chunk
    lines[350] = "{not json"
    path = write(tmp_path / "bad.jsonl", lines)
    alone = emit(one, path, "--workers", "0")
    chunked = emit(many, path, "--workers", "2", "--chunk-size", "2048")
    assert alone.returncode == chunked.returncode == 2
    assert chunked.stderr == alone.stderr
    assert chunked.stderr.startswith(f"error: {path}:334: ")
    assert len(chunked.stderr.strip().splitlines()) == 1
    assert log_end(many.home) == log_end(one.home)
    assert logged(many.home) == logged(one.home) == []


def test_standard_input_stays_in_this_process(tmp_path: Path, two: tuple[Lineage, Lineage]) -> None:
    one, many = two
    path = write(tmp_path / "events.jsonl", story(50))
    alone = emit(one, path, "--workers", "0", "--format", "json")
    proc = subprocess.Popen(
        many.command("emit", "--file", "-", "--workers", "2", "--format", "json"),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=many.process_env(),
    )
    assert proc.stdin is not None
    text = path.read_text()
    proc.stdin.write(text[: len(text) // 2])
    proc.stdin.flush()
    # While it reads the stream, it has started no worker.
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline:
        assert _spawned(proc.pid) == []
        time.sleep(0.05)
    out, err = proc.communicate(text[len(text) // 2 :], timeout=60)
    assert proc.returncode == 0, err
    assert out == alone.stdout
    assert logged(many.home) == logged(one.home)


def test_default_workers_only_for_large_files_and_more_cpus() -> None:
    from lineage.cli.main import _emit_workers
    from lineage.serve.ingest import FILE_THRESHOLD

    assert _emit_workers(None, 0) == 0  # a stream
    assert _emit_workers(2, 0) == 0
    assert _emit_workers(None, FILE_THRESHOLD - 1, cpus=4, load=0) == 0
    assert _emit_workers(None, FILE_THRESHOLD, cpus=4, load=0.2) == 4
    assert _emit_workers(None, FILE_THRESHOLD, cpus=4, load=2.4) == 4
    assert _emit_workers(None, FILE_THRESHOLD, cpus=4, load=2.6) == 0  # the cores are busy
    assert _emit_workers(None, FILE_THRESHOLD, cpus=2, load=0.4) == 2
    assert _emit_workers(None, FILE_THRESHOLD, cpus=1, load=0) == 0
    assert _emit_workers(3, 100, cpus=1, load=9) == 3  # as asked
    assert _emit_workers(0, FILE_THRESHOLD * 10, cpus=4, load=0) == 0


def _spawned(pid: int) -> list[int]:
    """The worker processes ``pid`` started (multiprocessing's spawn)."""
    children = [
        int(child)
        for task in Path(f"/proc/{pid}/task").iterdir()
        for child in (task / "children").read_text().split()
    ]
    return [c for c in children if b"spawn_main" in Path(f"/proc/{c}/cmdline").read_bytes()]


def test_worker_killed_nothing_appended(tmp_path: Path, lineage: Lineage) -> None:
    path = write(tmp_path / "big.jsonl", story(60_000))
    before = log_end(lineage.home)
    proc = subprocess.Popen(
        lineage.command("emit", "--file", str(path), "--workers", "2", "--chunk-size", "65536"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=lineage.process_env(),
    )
    segment = sorted((lineage.home / "log").glob("*.seg"))[-1]
    size = segment.stat().st_size
    deadline = time.monotonic() + 60
    # Kill a worker once the append is under way (the segment grows before it is committed).
    while segment.stat().st_size < size + 200_000:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.01)
    workers = _spawned(proc.pid)
    assert workers
    os.kill(workers[0], signal.SIGKILL)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == WorkerLost.exit_code == 3, err
    assert err.strip().splitlines() == [
        f"error: a worker preparing {path} stopped (killed, or out of memory); "
        "nothing of the file was appended"
    ]
    assert out == ""
    assert log_end(lineage.home) == before
    assert logged(lineage.home) == []
    assert segment.stat().st_size == size  # the records written so far were taken back
    # The home is usable after: the same file goes in whole.
    again = emit(lineage, path, "--workers", "2")
    assert again.returncode == 0, again.stderr
    assert len(logged(lineage.home)) > 60_000


# -- any input: one pass and chunks in workers agree ----------------------------------------
@pytest.fixture(scope="module")
def pooled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[App, IngestPool]]:
    home = tmp_path_factory.mktemp("pooled") / "home"
    app = App(resolve(home))
    app.init()
    pool = IngestPool(app.settings, None, 2, threshold=0)
    try:
        yield app, pool
    finally:
        pool.close()
        app.close()


_KINDS = (collected, shared, transferred)
_BAD = (
    "{broken",
    "[]",
    json.dumps(collected(categories=["user.nme"])),
    json.dumps(collected(email="not-an-email")),
    "\xff",
)
line = st.one_of(
    st.builds(
        lambda kind, who, phone, year, at: json.dumps(
            _KINDS[kind](
                email=f"u{who}@example.com",
                # Some dated far ahead: the future count and the first one's line.
                occurred_at=f"{year}-01-{at:02d}T09:30:00Z",
                **(
                    {"subject": {"email": f"u{who}@example.com", "phone": f"+4520{phone:06d}"}}
                    if phone is not None
                    else {}
                ),
            )
        ),
        st.integers(0, 2),
        # Few subjects and phones: the same pair of identifiers recurs in later chunks.
        st.integers(0, 4),
        st.none() | st.integers(0, 2),
        st.sampled_from([2024, 2024, 2024, 2099]),
        st.integers(1, 28),
    ),
    st.just(""),
    st.sampled_from(_BAD),
)


def _run(app: App, path: Path, chunk: int | None, pool: IngestPool) -> Recorded | LineageError:
    try:
        with open(path, "rb") as fh:
            if chunk is None:
                return record(app, from_lines(parser_for(app), fh, str(path)))
            return record_file(app, fh, str(path), None, 2, chunk, pool=pool)
    except LineageError as exc:
        return exc


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    lines=st.lists(line, max_size=120),
    bad=st.lists(st.sampled_from(_BAD), max_size=1),
    at=st.integers(0, 120),
    chunk=st.integers(1, 2000),
    end=st.sampled_from(["\n", ""]),
)
def test_chunks_in_workers_agree_with_one_pass(
    tmp_path: Path,
    pooled: tuple[App, IngestPool],
    lines: list[str],
    bad: list[str],
    at: int,
    chunk: int,
    end: str,
) -> None:
    # Mostly good lines (a bad one somewhere, sometimes), so most examples get appended.
    lines = [x for x in lines if x not in _BAD or x == ""]
    lines[at:at] = bad
    app, pool = pooled
    path = tmp_path / "in.jsonl"
    # JSON text is ASCII here: Latin-1 leaves it as it is and makes "\xff" the byte 0xff.
    path.write_bytes(("\n".join(lines) + end).encode("latin-1"))
    home = app.settings.home
    start = log_end(home)
    alone = _run(app, path, None, pool)
    middle = log_end(home)
    chunked = _run(app, path, chunk, pool)
    if isinstance(alone, LineageError):
        assert type(chunked) is type(alone)
        assert str(chunked) == str(alone)
        assert chunked.exit_code == alone.exit_code
        assert log_end(home) == middle == start
        return
    assert isinstance(chunked, Recorded)
    assert (chunked.appended, chunked.identity_links, chunked.future, chunked.first_future) == (
        alone.appended,
        alone.identity_links,
        alone.future,
        alone.first_future,
    )
    both, second = logged(home, start), logged(home, middle)
    assert both[: len(both) - len(second)] == second
    assert len(second) == chunked.appended


def test_chunks_split_where_lines_end(tmp_path: Path) -> None:
    data = b"a\r\nb\n\n" + b"c" * 10 + b"\nd"
    path = tmp_path / "x"
    path.write_bytes(data)
    with open(path, "rb") as fh:
        chunks = list(file_chunks(fh, 3))
    assert b"".join(c for c, _ in chunks) == data
    numbered = [
        (first + i, line) for chunk, first in chunks for i, line in enumerate(io.BytesIO(chunk))
    ]
    with open(path, "rb") as fh:
        assert numbered == list(enumerate(fh, 1))


def test_kafka_log_same_counts(tmp_path: Path, lineage: Lineage, kafka_home: Lineage) -> None:
    """The chunks go through the Kafka log's append as one pass does."""
    path = write(tmp_path / "events.jsonl", story(300))
    alone = emit(lineage, path, "--workers", "0", "--format", "json")
    chunked = emit(kafka_home, path, "--workers", "2", "--chunk-size", "4096", "--format", "json")
    assert alone.returncode == chunked.returncode == 0, chunked.stderr
    one, many = json.loads(alone.stdout), json.loads(chunked.stdout)
    assert (many["appended"], many["identity_links"]) == (one["appended"], one["identity_links"])
    # Lines 120 apart repeat: the projection keeps each event id once, on either log.
    assert kafka_home.json("project")["applied"] == lineage.json("project")["applied"] < 370


# -- what crosses the result pipe -------------------------------------------------------------
def test_a_result_crosses_the_pipe_as_a_name(pooled: tuple[App, IngestPool]) -> None:
    """A worker's result is left in a file and only its name is sent back: a worker killed
    while sending a large result through the pool's shared pipe left a partial message
    that the pool's reader waited on forever (emit hung instead of exiting 3). A name is
    written whole or not at all."""
    import pickle
    import select

    from lineage.ingest.record import prepare_lines
    from lineage.serve.ingest import _prepare_lines, _taken

    app, pool = pooled
    data = ("\n".join(story(3000)) + "\n").encode()
    assert len(data) > 100 * select.PIPE_BUF
    sent = pool._pool.submit(_prepare_lines, data, "big.jsonl", 1, None).result()
    assert isinstance(sent, str)
    assert len(pickle.dumps(sent)) < select.PIPE_BUF // 8
    assert os.path.dirname(sent) == pool.handoff
    prepared = _taken(sent)
    assert not os.path.exists(sent)
    here = prepare_lines(app, data, "big.jsonl", 1, None, parser_for(app))
    assert len(prepared.records) == len(here.records) >= 3000  # and the identity links
    assert (prepared.refs, prepared.places, prepared.identity_links) == (
        here.refs,
        here.places,
        here.identity_links,
    )
    # An error travels the same way and is raised where the result is taken.
    bad = pool._pool.submit(_prepare_lines, b"{broken\n", "bad.jsonl", 7, None).result()
    with pytest.raises(LineageError, match=r"bad\.jsonl:7"):
        _taken(bad)
    assert os.listdir(pool.handoff) == []


def test_results_given_up_are_removed(tmp_path: Path) -> None:
    """A file stopped at a bad line leaves no results of the chunks read ahead, and the
    pool's directory goes with the pool."""
    app = App(resolve(tmp_path / "home"))
    app.init()
    pool = IngestPool(app.settings, None, 2, threshold=0)
    try:
        path = write(tmp_path / "bad.jsonl", ["{broken", *story(4000)])
        with pytest.raises(LineageError, match=r"bad\.jsonl:1"), open(path, "rb") as fh:
            record_file(app, fh, str(path), None, 2, 4096, pool=pool)
        deadline = time.monotonic() + 30
        while os.listdir(pool.handoff) and time.monotonic() < deadline:
            time.sleep(0.05)  # the chunks read ahead finish in the workers, then go
        assert os.listdir(pool.handoff) == []
    finally:
        pool.close()
        app.close()
    assert not os.path.exists(pool.handoff)
