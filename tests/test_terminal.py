"""The CLI's human output in a terminal: tables fit its width, colour only on a terminal and
never with NO_COLOR, highlights for past retention and invalid transfers, one vocabulary of
format names, and a demo that says what to try next and leaves a home that works."""

from __future__ import annotations

import os
import pty
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Lineage

ESC = "\x1b["
JANE = "jane.doe@example.dk"


@pytest.fixture(scope="module")
def demo_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    home = tmp_path_factory.mktemp("term") / "home"
    done = subprocess.run(
        [sys.executable, "-m", "lineage.cli.main", "demo", "--keep", str(home), "--subjects", "30"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    tried = [line.strip() for line in lines[lines.index("next, try:") + 1 :]]
    assert len(tried) == 3 and all(t.startswith("lineage --home") for t in tried)
    yield home


def in_terminal(home: Path, *args: str, columns: int = 100, **env: str) -> str:
    """The command's output on a pseudo-terminal ``columns`` wide."""
    main, sub = pty.openpty()
    environment = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    environment.update(COLUMNS=str(columns), LINES="50", TERM="xterm-256color", **env)
    proc = subprocess.Popen(
        [sys.executable, "-m", "lineage.cli.main", "--home", str(home), *args],
        stdout=sub,
        stderr=sub,
        env=environment,
    )
    os.close(sub)
    out = b""
    while True:
        try:
            chunk = os.read(main, 65536)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    proc.wait(30)
    os.close(main)
    return out.decode()


def test_tables_fit_the_terminal_and_mark_what_is_wrong(demo_home: Path) -> None:
    out = in_terminal(demo_home, "who-has", JANE, columns=100)
    plain = out.replace("\r", "")
    text = re.sub(r"\x1b\[[0-9;]*m", "", plain)
    assert max(len(line) for line in text.splitlines()) <= 100
    wide = in_terminal(demo_home, "who-has", JANE, columns=200)
    assert "INVALID" in wide and "past retention" in wide
    assert "\x1b[1;31mpast retention" in wide or "\x1b[1;31m" in wide  # highlighted
    audit = re.sub(r"\x1b\[[0-9;]*m", "", in_terminal(demo_home, "audit", columns=80))
    assert max(len(line) for line in audit.replace("\r", "").splitlines()) <= 80


def test_no_colour_with_no_color_or_through_a_pipe(demo_home: Path) -> None:
    assert ESC not in in_terminal(demo_home, "who-has", JANE, NO_COLOR="1")
    assert ESC not in in_terminal(demo_home, "who-has", "--id", "x", NO_COLOR="1")  # error line
    piped = Lineage(demo_home).process("who-has", JANE)
    assert piped.returncode == 0 and ESC not in piped.stdout + piped.stderr


def test_a_kept_demo_home_has_the_catalog(demo_home: Path) -> None:
    lineage = Lineage(demo_home)
    assert (demo_home / "lineage.yaml").exists()
    assert "Nordlys Webshop ApS" in lineage.ok("ropa").stdout
    assert lineage("audit").exit_code == 1  # the sample company's findings, not "no catalog"
    out = demo_home.parent / "map.dot"
    lineage.ok("map", "--format", "dot", "-o", str(out))
    assert out.read_text().startswith("digraph")


def test_one_vocabulary_of_format_names(demo_home: Path) -> None:
    lineage = Lineage(demo_home)
    assert lineage.ok("status", "--format", "text").stdout == lineage.ok("status").stdout
    assert lineage.ok("status", "--format", "table").stdout == lineage.ok("status").stdout
    at = ("--as-of", "2025-01-01T00:00:00Z")
    md = lineage.ok("ropa", *at, "--format", "md").stdout
    assert md == lineage.ok("ropa", *at, "--format", "markdown").stdout
    assert lineage.ok("access", JANE, "--format", "markdown").stdout.startswith("# ")
    assert lineage.ok("access", JANE, "--format", "md").stdout.startswith("# ")
    for command in (["status"], ["who-has"], ["audit"], ["token", "create"], ["ropa"]):
        help_text = lineage.ok(*command, "--help").stdout
        assert "text|" not in help_text and "|md" not in help_text
    assert "\\b" not in lineage.ok("dlq", "list", "--help").stdout
