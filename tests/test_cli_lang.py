"""The CLI in Danish: ``--lang`` / ``LINEAGE_LANG`` for every table, rendered from the same
JSON the service answers with; golden tables of the example webshop, and bad languages.
``REGENERATE_GOLDEN=1`` rewrites the golden files (review the diff)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from lineage.config import KEY_ENV
from tests.conftest import Lineage

ROOT = Path(__file__).resolve().parent.parent
WEBSHOP = ROOT / "examples" / "webshop"
GOLDEN = Path(__file__).resolve().parent / "golden" / "cli"
# Read before the autouse fixture clears LINEAGE_* variables; not one of lineage's settings.
REGENERATE = os.environ.get("REGENERATE_GOLDEN") == "1"
AS_OF = "2025-01-01T00:00:00Z"
JANE = "jane.doe@example.dk"
# A fixed pseudonym key: the subject reference in the table's head is the same every run.
KEY = "11" * 32


def run(home: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """The real CLI, piped (natural width, no colour), in its own process."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("LINEAGE_")}
    environment.update({KEY_ENV: KEY, "NO_COLOR": "1", **env})
    return subprocess.run(
        [sys.executable, "-m", "lineage.cli.main", "--home", str(home), *args],
        capture_output=True,
        text=True,
        env=environment,
        check=False,
        timeout=120,
    )


@pytest.fixture(scope="module")
def webshop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    home = tmp_path_factory.mktemp("lang") / "home"
    for args in (("init",), ("emit", "--file", str(WEBSHOP / "events.jsonl"))):
        done = run(home, *args)
        assert done.returncode == 0, done.stderr
    yield home


def same_as_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if REGENERATE:
        path.parent.mkdir(exist_ok=True)
        path.write_text(text)
    assert path.exists(), f"no golden {name}: run with REGENERATE_GOLDEN=1"
    assert text == path.read_text(), f"{name} differs from its golden file"


def test_who_has_in_danish_is_the_golden_table(webshop: Path) -> None:
    catalog = str(WEBSHOP / "lineage.yaml")
    done = run(webshop, "who-has", JANE, "--as-of", AS_OF, "--catalog", catalog, "--lang", "da")
    assert done.returncode == 0, done.stderr
    same_as_golden("who-has-da.txt", done.stdout)
    # The plain Danish names, the status words and the rule's reason, not codes or English.
    for words in ("E-mailadresse", "databehandler, på vores vegne", "UGYLDIGT", "ugyldig"):
        assert words in done.stdout, words
    assert "past retention" not in done.stdout and "INVALID" not in done.stdout
    # LINEAGE_LANG gives the same table; --lang wins over it.
    env = run(webshop, "who-has", JANE, "--as-of", AS_OF, "--catalog", catalog, LINEAGE_LANG="da")
    assert env.stdout == done.stdout
    flag = run(webshop, "who-has", JANE, "--as-of", AS_OF, "--catalog", catalog, "--lang", "en",
               LINEAGE_LANG="da")  # fmt: skip
    assert "INVALID" in flag.stdout and "UGYLDIGT" not in flag.stdout


def test_audit_in_danish_is_the_golden_table(webshop: Path) -> None:
    catalog = str(WEBSHOP / "lineage.yaml")
    done = run(webshop, "audit", "--as-of", AS_OF, "--catalog", catalog, "--lang", "da")
    assert done.returncode == 1, done.stderr  # the example's findings include errors
    same_as_golden("audit-da.txt", done.stdout)
    assert "standardkontraktbestemmelserne" in done.stdout and "fejl" in done.stdout
    # JSON stays machine-stable: the English texts, with the parts other languages render.
    en = run(webshop, "audit", "--as-of", AS_OF, "--catalog", catalog, "--format", "json")
    da = run(webshop, "audit", "--as-of", AS_OF, "--catalog", catalog, "--format", "json",
             "--lang", "da")  # fmt: skip
    assert en.stdout == da.stdout
    assert '"message_parts"' in en.stdout and "standardkontrakt" not in en.stdout


@pytest.mark.parametrize(
    ("args", "env", "where"),
    [
        (("who-has", JANE, "--lang", "fr"), {}, "--lang"),
        (("audit", "--lang", "DA"), {}, "--lang"),
        (("erasure", "status", "--lang", ""), {}, "--lang"),
        (("status",), {"LINEAGE_LANG": "klingon"}, "LINEAGE_LANG"),
    ],
)
def test_an_unknown_language_is_one_line_and_exit_2(
    webshop: Path, args: tuple[str, ...], env: dict[str, str], where: str
) -> None:
    done = run(webshop, *args, **env)
    assert done.returncode == 2
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {where}: unknown language")
    assert "expected one of en, da" in lines[0]


def test_every_human_table_follows_the_language(lineage: Lineage) -> None:
    """The other tables: status, recipients, erasure and exposure, in Danish."""
    from tests.conftest import collected, shared, transferred

    lineage.emit([collected(), shared(), transferred(occurred_at="2021-01-01T00:00:00Z")])
    status = lineage.ok("status", "--lang", "da").stdout
    assert "fremtidsdaterede hændelser" in status and "afviste poster" in status
    recipients = lineage.ok("recipients", "jane@example.com", "--lang", "da").stdout
    assert "modtager" in recipients and "databehandler, på vores vegne" in recipients
    erase = lineage.ok("erase", "jane@example.com", "--dry-run", "--lang", "da").stdout
    assert "prøvekørsel" in erase and "slet" in erase and "begrundelse" in erase
    exposed = lineage.ok("exposed", "--holder", "mailchimp", "--at", "2024-06-01", "--lang", "da")
    assert (
        "1 registreret hos mailchimp" in exposed.stdout and "behandlingsgrundlag:" in exposed.stdout
    )
    assert "ingen tokens" in lineage.ok("token", "list", "--lang", "da").stdout
    assert "ingen afviste poster" in lineage.ok("dlq", "list", "--lang", "da").stdout
    # English stays as it was.
    assert "future-dated events" in lineage.ok("status").stdout
