"""One flipped bit in any file of a home, with real processes: never a traceback, never a
silently wrong answer from the log, and after `lineage log repair` and `lineage rebuild`
every acknowledged event is back."""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

import pytest

from tests.conftest import Lineage, collected

AS_OF = "2030-01-01T00:00:00Z"


def who_has(runner: Lineage, email: str) -> tuple[int, str, str]:
    done = runner.process("who-has", email, "--as-of", AS_OF, "--format", "json")
    return done.returncode, done.stdout, done.stderr


@pytest.mark.slow
def test_one_bit_flipped_in_any_file_of_the_home(lineage: Lineage, tmp_path: Path) -> None:
    assert lineage.emit([collected(f"p{i}@example.com") for i in range(300)]).exit_code == 0
    assert lineage.process("project").returncode == 0
    expected = who_has(lineage, "p7@example.com")[1]
    files = [p for p in lineage.home.rglob("*") if p.is_file() and p.stat().st_size]
    names = {p.relative_to(lineage.home).as_posix() for p in files}
    assert {"log/META", "log/HEAD", "projection.duckdb", "pseudonym.key"} <= names

    rng = random.Random(7)
    for path in files:
        size = path.stat().st_size
        for position in sorted({0, size // 2, size - 1, rng.randrange(size)}):
            home = tmp_path / f"flip-{path.name}-{position}"
            shutil.copytree(lineage.home, home)
            runner = Lineage(home)
            target = home / path.relative_to(lineage.home)
            data = bytearray(target.read_bytes())
            data[position] ^= 1 << rng.randrange(8)
            target.write_bytes(bytes(data))
            where = f"{target.relative_to(home)} byte {position}"

            code, out, err = who_has(runner, "p7@example.com")
            assert "Traceback" not in err, (where, err)
            if code:
                assert len(err.strip().splitlines()) == 1, (where, err)
            else:
                # A damaged key would name other subjects: its check line refuses it instead.
                assert out == expected, where

            # The repair path brings every acknowledged event back.
            if path.name == "pseudonym.key":
                shutil.copy(lineage.home / "pseudonym.key", target)
            assert runner.process("log", "repair").returncode == 0, where
            rebuilt = runner.process("rebuild")
            assert rebuilt.returncode == 0, (where, rebuilt.stderr)
            code, out, err = who_has(runner, "p7@example.com")
            assert code == 0 and out == expected, (where, err)
            status = json.loads(runner.process("status", "--format", "json").stdout)
            counts = status["projection"]
            # A record whose bit flipped is set aside (reported), never projected wrong.
            assert counts["events"] + counts["quarantined"] == 300, where
            assert counts["quarantined"] <= (path.suffix == ".seg"), where
            shutil.rmtree(home)
