"""Shared helpers of the benchmark scripts: prepared data, timing, results."""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "results"


def workdir(given: Path | None) -> Path:
    """Where generated data lives between runs (big: about 0.5 GB per million events)."""
    path = given or Path(tempfile.gettempdir()) / "lineage-bench"
    path.mkdir(parents=True, exist_ok=True)
    return path


def prepared_home(base: Path, events: int, subjects: int, seed: int) -> tuple[Path, bool]:
    """A lineage home whose log holds the generated events; reused when already there.
    Returns (home, reused)."""
    from generate import write_log

    home = base / f"home-{events}-{subjects}-{seed}"
    marker = home / "bench-generated.json"
    if marker.exists():
        return home, True
    if home.exists():
        import shutil

        shutil.rmtree(home)
    prepared = write_log(home, events, subjects, seed)
    marker.write_text(json.dumps({"events": prepared.events, "seconds": prepared.seconds}))
    return home, False


def lineage_command() -> list[str]:
    """The ``lineage`` console script of this interpreter's environment."""
    script = Path(sys.executable).with_name("lineage")
    return [str(script)] if script.exists() else [sys.executable, "-m", "lineage.cli.main"]


def child_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LINEAGE_")}
    env.update(extra)
    return env


def wall(cmd: Sequence[str], **kw: Any) -> float:
    """Seconds one process takes from start to exit; fails loudly on a non-zero exit."""
    began = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, **kw)
    return time.perf_counter() - began


def measured(cmd: Sequence[str], **kw: Any) -> tuple[float, float]:
    """(seconds, peak RSS in MiB) of one child process; fails loudly on a non-zero exit."""
    began = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, **kw)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - began
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise subprocess.CalledProcessError(proc.returncode, list(cmd))
    return seconds, usage.ru_maxrss / 1024


def percentile(values: Sequence[float], pct: float) -> float:
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1))))
    return ordered[rank]


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def peak_rss_mib() -> dict[str, float]:
    """This process's peak resident set (VmHWM) and its current anonymous / file-backed parts.
    File-backed pages of the memory-mapped log count in RSS but are reclaimable cache."""
    out: dict[str, float] = {}
    try:
        text = Path("/proc/self/status").read_text()
    except OSError:
        import resource

        return {"VmHWM": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key in ("VmHWM", "VmRSS", "RssAnon", "RssFile"):
            out[key] = int(value.split()[0]) / 1024
    return out


def table(rows: Sequence[Sequence[Any]], headers: Sequence[str]) -> str:
    cells = [[str(c) for c in headers], *[[_fmt(c) for c in row] for row in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.3f}" if abs(value) < 100 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def save(name: str, data: dict[str, Any]) -> Path:
    """Write results as JSON to bench/results/<name>-<time>.json (and <name>-latest.json)."""
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    payload = {
        "benchmark": name,
        "at": stamp,
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
        },
        **data,
    }
    text = json.dumps(payload, indent=2, default=str) + "\n"
    path = RESULTS / f"{name}-{stamp}.json"
    path.write_text(text)
    (RESULTS / f"{name}-latest.json").write_text(text)
    return path


def wait_healthy(url: str, server: Any, log_path: Path) -> None:
    """Until ``lineage serve`` (the process ``server``) answers its health check; its log
    shown if it exits first."""
    import httpx

    while True:
        if server.poll() is not None:
            raise SystemExit(f"lineage serve exited:\n{log_path.read_text()}")
        try:
            if httpx.get(url + "/v1/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def admin_token(home: Path, env: dict[str, str]) -> str:
    """A new admin token of the home's service (``lineage token create``)."""
    made = subprocess.run(
        [
            *lineage_command(),
            "--home",
            str(home),
            "token",
            "create",
            "--scope",
            "admin",
            "--name",
            "bench",
        ],
        check=True,
        capture_output=True,
        text=True,
        env=env,
    )
    return made.stdout.strip()
