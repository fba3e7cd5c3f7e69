"""The home under faults, with real processes: permissions, full disks, read-only homes,
projections deleted mid-run, and readers and writers that meet."""

from __future__ import annotations

import contextlib
import json
import os
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import collected

AS_OF = "2030-01-01T00:00:00Z"


def lineage_process(home: Path, *args: str, umask: int = 0o022) -> subprocess.CompletedProcess[str]:
    """``lineage`` in a process started with a permissive umask, as from a usual shell."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LINEAGE_")}
    return subprocess.run(
        [sys.executable, "-m", "lineage.cli.main", "--home", str(home), *args],
        capture_output=True,
        text=True,
        env=env,
        preexec_fn=lambda: os.umask(umask),
    )


def test_everything_the_tool_creates_is_owner_only(tmp_path: Path) -> None:
    home = tmp_path / "home"
    for args in (
        ("demo", "--keep", str(home), "--subjects", "20"),
        ("log", "compact"),
        ("rebuild",),
        ("map", "--format", "dot", "-o", str(home / "exports" / "map.dot")),
    ):
        if args[0] == "map":
            (home / "exports").mkdir(mode=0o755)
            os.chmod(home / "exports", 0o755)  # the user's own directory, as they made it
        done = lineage_process(home, *args)
        assert done.returncode == 0, (args, done.stderr)
    seen = []
    for path in [home, *home.rglob("*")]:
        if path == home / "exports":
            continue
        mode = stat.S_IMODE(path.stat().st_mode)
        seen.append(path.relative_to(home).as_posix())
        assert mode & 0o077 == 0, f"{path.relative_to(home)} is {mode:o}"
    assert {"log/META", "log/HEAD", "log/lock", "projection.duckdb", "pseudonym.key"} <= set(seen)
    assert any(p.startswith("connectors/state/") for p in seen)
    assert "exports/map.dot" in seen


# -- helpers for the fault tests -----------------------------------------------------------
def run(home: Path, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command(home, *args), capture_output=True, text=True, env=env(**extra))


def start(home: Path, *args: str, **extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        command(home, *args),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env(**extra),
    )


def command(home: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "lineage.cli.main", "--home", str(home), *args]


def env(**extra: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("LINEAGE_")}
    return {**base, **extra}


def one_line(done: subprocess.CompletedProcess[str], *needles: str) -> str:
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def people(count: int, prefix: str = "p") -> list[dict[str, Any]]:
    return [collected(f"{prefix}{i}@example.com") for i in range(count)]


def write_events(path: Path, events: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(e) + "\n" for e in events))
    return path


def answer(home: Path, email: str = "p1@example.com") -> Any:
    done = run(home, "who-has", email, "--as-of", AS_OF, "--format", "json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def make_home(root: Path, count: int) -> Path:
    home = root / "home"
    assert run(home, "init").returncode == 0
    events = write_events(root / "events.jsonl", people(count))
    assert run(home, "emit", "--file", str(events)).returncode == 0
    return home


def events_in_projection(home: Path) -> int:
    done = run(home, "status", "--format", "json")
    assert done.returncode == 0, done.stderr
    return int(json.loads(done.stdout)["projection"]["events"])


# -- 8. a full disk ----------------------------------------------------------------------------
@contextlib.contextmanager
def small_disk(path: Path, size: str) -> Iterator[Path]:
    if os.geteuid() != 0:
        pytest.skip("a full disk is a small tmpfs, and mounting one needs root")
    path.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)])
    if mounted.returncode != 0:
        pytest.skip("mount -t tmpfs failed (no CAP_SYS_ADMIN in this container)")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=True)


def fill(disk: Path) -> Path:
    """Take every free byte of ``disk``; removing the returned file frees them."""
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        for size in (1 << 20, 65536, 4096, 512, 1):
            with contextlib.suppress(OSError):
                while True:
                    os.write(fd, b"\0" * size)
    finally:
        os.close(fd)
    return filler


def test_a_full_disk_is_one_line_and_the_next_command_just_works(tmp_path: Path) -> None:
    with small_disk(tmp_path / "disk", "24m") as disk:
        home = make_home(disk, 300)
        assert run(home, "project").returncode == 0
        before = answer(home)
        log_bytes = (home / "log" / "00000000000000000000.seg").read_bytes()
        more = write_events(tmp_path / "more.jsonl", people(3000, prefix="m"))
        filler = fill(disk)

        done = run(home, "emit", "--file", str(more))
        assert done.returncode == 1
        one_line(done, "no space left on", str(home / "log"))
        assert (home / "log" / "00000000000000000000.seg").read_bytes() == log_bytes

        filler.unlink()
        assert run(home, "emit", "--file", str(more)).returncode == 0
        filler = fill(disk)
        done = run(home, "project")
        assert done.returncode == 1
        one_line(done, "no space left on")
        # A read with no projection on a full disk leaves no empty file behind it.
        for stale in home.glob("projection.duckdb*"):
            stale.unlink()
        filler.rename(disk / "filler-1")
        filler = fill(disk)
        done = run(home, "who-has", "p1@example.com")
        assert done.returncode == 1
        one_line(done, "no space left on")
        assert [p.name for p in home.iterdir() if "projection" in p.name] == []

        filler.unlink()
        (disk / "filler-1").unlink()
        assert answer(home) == before
        assert events_in_projection(home) == 3300
        assert answer(home, "m7@example.com")["holders"]


# -- 9. a read-only home -----------------------------------------------------------------------
@contextlib.contextmanager
def read_only(home: Path, view: Path) -> Iterator[Path]:
    """``home`` seen read-only at ``view``: a read-only bind mount as root (root ignores
    file modes), else the same home with every write bit taken away."""
    if os.geteuid() == 0:
        view.mkdir()
        if subprocess.run(["mount", "--bind", str(home), str(view)]).returncode != 0:
            pytest.skip("mount --bind failed (no CAP_SYS_ADMIN in this container)")
        try:
            subprocess.run(["mount", "-o", "remount,ro,bind", str(view)], check=True)
            yield view
        finally:
            subprocess.run(["umount", str(view)], check=True)
        return
    paths = [home, *home.rglob("*")]
    modes = {p: p.stat().st_mode for p in paths}
    for p in paths:
        p.chmod(modes[p] & ~0o222)
    try:
        yield home
    finally:
        for p in reversed(paths):
            p.chmod(modes[p])


def test_a_read_only_home_answers_reads_and_refuses_writes(tmp_path: Path) -> None:
    home = make_home(tmp_path, 50)
    assert run(home, "project").returncode == 0
    expected = answer(home)
    report = run(home, "access", "p1@example.com")
    assert report.returncode == 0, report.stderr
    # One more subject after the audit kept its summaries: marked, not yet folded again.
    audited = run(home, "audit", "--format", "json", "--as-of", AS_OF)
    assert audited.returncode in (0, 1), audited.stderr
    more = write_events(tmp_path / "one.jsonl", people(1, prefix="r"))
    assert run(home, "emit", "--file", str(more)).returncode == 0
    assert run(home, "project").returncode == 0
    with read_only(home, tmp_path / "ro") as ro:
        assert answer(ro) == expected
        # The audit answers by folding what changed, without storing it.
        unkept = run(ro, "audit", "--format", "json", "--as-of", AS_OF, "--fail-on", "info")
        status = run(ro, "status", "--format", "json")
        assert status.returncode == 0, status.stderr
        assert json.loads(status.stdout)["projection"]["pending"] == 0
        again = run(ro, "access", "p1@example.com")
        assert again.returncode == 0, again.stderr
        assert json.loads(again.stdout)["subject"] == json.loads(report.stdout)["subject"]
        more = write_events(tmp_path / "more.jsonl", people(2, prefix="m"))
        done = run(ro, "emit", "--file", str(more))
        assert done.returncode == 1
        one_line(done, "cannot write", "read-only")
    audited = run(home, "audit", "--format", "json", "--as-of", AS_OF, "--fail-on", "info")
    assert unkept.returncode == audited.returncode, unkept.stderr
    assert json.loads(unkept.stdout) == json.loads(audited.stdout)
    assert json.loads(audited.stdout)["findings"]  # (people's data is overdue by 2030)
    # Behind the log, a read-only home cannot answer currently: it says so.
    assert run(home, "emit", "--file", str(more)).returncode == 0
    with read_only(home, tmp_path / "ro2") as ro:
        done = run(ro, "who-has", "m1@example.com")
        assert done.returncode == 1
        one_line(done, "read-only", "behind the log")


# -- 11. the projection deleted while `project` writes it ---------------------------------------
def test_project_never_reports_work_written_to_a_deleted_file(tmp_path: Path) -> None:
    home = make_home(tmp_path, 6000)
    target = home / "projection.duckdb"
    for _attempt in range(5):
        for stale in home.glob("projection.duckdb*"):
            stale.unlink()
        proc = start(home, "project", LINEAGE_BATCH_SIZE="200")
        while proc.poll() is None and not (target.exists() and target.stat().st_size > 0):
            time.sleep(0.002)
        time.sleep(0.1)
        target.unlink(missing_ok=True)
        out, err = proc.communicate()
        if proc.returncode == 0 and "projected" in out and not target.exists():
            pytest.fail(f"project reported success for a deleted projection: {out}")
        if proc.returncode != 0:
            break
    else:
        pytest.fail("project always finished before the deletion: the test proved nothing")
    assert "was deleted or replaced" in one_line(
        subprocess.CompletedProcess([], proc.returncode, out, err)
    )
    assert run(home, "project").returncode == 0
    assert events_in_projection(home) == 6000


# -- 12 and 16. readers, writers and rebuilds that meet -------------------------------------------
def test_readers_wait_for_a_running_project_and_answer(tmp_path: Path) -> None:
    home = make_home(tmp_path, 12000)
    expected_holders = 1
    proc = start(home, "project", LINEAGE_BATCH_SIZE="500")
    while proc.poll() is None and not (home / "projection.duckdb").exists():
        time.sleep(0.002)
    readers = [
        start(home, "who-has", f"p{i}@example.com", "--format", "json", LINEAGE_LOCK_TIMEOUT="60")
        for i in range(6)
    ]
    impatient = start(home, "who-has", "p1@example.com", LINEAGE_LOCK_TIMEOUT="0.05")
    for reader in readers:
        out, err = reader.communicate()
        assert reader.returncode == 0, err
        assert len(json.loads(out)["holders"]) == expected_holders
    out, err = impatient.communicate()
    assert proc.communicate() and proc.returncode == 0
    if impatient.returncode != 0:  # the project still ran when it gave up
        assert impatient.returncode == 3
        one_line(subprocess.CompletedProcess([], 3, out, err), "busy", "waited 0.05s")


def test_readers_during_an_emit_all_answer(tmp_path: Path) -> None:
    home = make_home(tmp_path, 200)
    big = write_events(tmp_path / "big.jsonl", people(20000, prefix="b"))
    writer = start(home, "emit", "--file", str(big))
    # The bound is generous: eight readers queue behind one catch-up of 20,000 events, on
    # a machine that may be busy with other work; what is tested is that they wait.
    readers = [
        start(home, "who-has", f"p{i}@example.com", "--format", "json", LINEAGE_LOCK_TIMEOUT="120")
        for i in range(8)
    ]
    results = [(r, *r.communicate()) for r in [*readers, writer]]
    for reader, out, err in results[:-1]:
        assert reader.returncode == 0, err
        assert json.loads(out)["holders"]
    assert results[-1][0].returncode == 0, results[-1][2]


def test_a_rebuild_racing_another_is_one_line_exit_3(tmp_path: Path) -> None:
    home = make_home(tmp_path, 8000)
    racers = [start(home, "rebuild", LINEAGE_LOCK_TIMEOUT="0.1") for _ in range(2)]
    results = [(r, *r.communicate()) for r in racers]
    assert any(r.returncode == 0 for r, _, _ in results), [e for _, _, e in results]
    for r, out, err in results:
        if r.returncode != 0:
            assert r.returncode == 3
            one_line(subprocess.CompletedProcess([], 3, out, err), "busy", "rebuild")
    assert events_in_projection(home) == 8000
