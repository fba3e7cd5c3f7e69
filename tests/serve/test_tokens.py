"""``lineage token``: shown once, only a hash kept (mode 0600), listed without secrets."""

from __future__ import annotations

import hashlib
import json
import stat

from tests.conftest import Lineage


def test_create_list_revoke(lineage: Lineage) -> None:
    made = lineage.json("token", "create", "--scope", "ingest", "--name", "webshop")
    secret = made["token"]
    assert secret.startswith("lin_") and len(secret) > 40
    path = lineage.home / "tokens.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text()
    assert secret not in text
    assert hashlib.sha256(secret.encode()).hexdigest() in text
    second = lineage.ok("token", "create", "--scope", "admin").stdout.strip()
    assert second.startswith("lin_") and second != secret
    listed = lineage.json("token", "list")["tokens"]
    assert [(t["name"], t["scope"]) for t in listed] == [
        ("webshop", "ingest"),
        ("admin-1", "admin"),
    ]
    assert all("sha256" not in t and "token" not in t for t in listed)
    duplicate = lineage("token", "create", "--scope", "read", "--name", "webshop")
    assert duplicate.exit_code == 2
    assert lineage("token", "create", "--scope", "everything").exit_code == 2
    lineage.ok("token", "revoke", "webshop")
    missing = lineage("token", "revoke", "webshop")
    assert missing.exit_code == 2
    assert "unknown token 'webshop'" in missing.output
    assert [t["name"] for t in json.loads(path.read_text())["tokens"]] == ["admin-1"]


def test_the_cli_starts_without_the_web_stack() -> None:
    import subprocess
    import sys

    code = (
        "import sys, lineage.cli.main; "
        "print(sorted(m for m in ('fastapi', 'uvicorn', 'starlette') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
