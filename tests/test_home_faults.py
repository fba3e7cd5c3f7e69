"""The home under faults, with real processes: permissions, full disks, read-only homes,
projections deleted mid-run, and readers and writers that meet."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path


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
