"""The pseudonym key file carries a check line: a damaged key is refused in one line instead
of silently naming other subjects."""

from __future__ import annotations

import pytest

from lineage.config import KEY_FILE, load_key
from lineage.errors import ConfigError
from tests.conftest import Lineage, collected


def test_init_writes_a_check_line_and_the_key_loads(lineage: Lineage) -> None:
    lines = (lineage.home / KEY_FILE).read_text().splitlines()
    assert len(lines) == 2 and lines[1].startswith("check ")
    assert len(load_key(lineage.home)) == 32


@pytest.mark.parametrize("line", [0, 1])
def test_a_changed_digit_anywhere_is_refused(lineage: Lineage, line: int) -> None:
    assert lineage.emit([collected("p@example.com")]).exit_code == 0
    path = lineage.home / KEY_FILE
    lines = path.read_text().splitlines()
    text = lines[line]
    # Another valid hex digit: without the check this key would load and answer wrongly.
    swapped = "1" if text[-1] != "1" else "2"
    lines[line] = text[:-1] + swapped
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ConfigError, match="damaged"):
        load_key(lineage.home)
    done = lineage.process("who-has", "p@example.com")
    assert done.returncode != 0
    assert len(done.stderr.strip().splitlines()) == 1
    assert "damaged" in done.stderr and "Traceback" not in done.stderr


def test_a_key_file_without_a_check_line_still_loads(lineage: Lineage) -> None:
    path = lineage.home / KEY_FILE
    key = load_key(lineage.home)
    path.write_text(key.hex() + "\n")
    assert load_key(lineage.home) == key
