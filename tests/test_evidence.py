"""Evidence an outsider can verify: the Ed25519-signed bundle, `lineage key public`,
`lineage erasure verify` (signature, consistency, the log), and the README's ways of
checking it without lineage (Python's cryptography, openssl)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from lineage.services.erasure.evidence import HMAC_FORMAT, canonical, evidence_key
from tests.conftest import Lineage, collected, shared

JANE = "jane@example.com"
README = Path(__file__).resolve().parents[1] / "README.md"


def request(lineage: Lineage) -> str:
    lineage.emit([collected(), shared(recipient="e-conomic")])
    rid = lineage.json("erase", JANE)["request_id"]
    lineage.ok("erasure", "confirm", rid, "--holder", "webshop-db", "--evidence", "letter")
    return str(rid)


@pytest.fixture
def signed(lineage: Lineage) -> tuple[Lineage, str, Path, Path]:
    rid = request(lineage)
    out = lineage.home.parent / "evidence"
    lineage.ok("erasure", "evidence", rid, "--out", str(out))
    pem = lineage.home.parent / "controller.pem"
    lineage.ok("key", "public", "--output", str(pem))
    return lineage, rid, out / f"{rid}.json", pem


def outsider(tmp_path: Path, *args: str, input: bytes | None = None) -> Any:
    """A real process with no lineage home: what an authority runs."""
    return subprocess.run(
        [sys.executable, "-m", "lineage.cli.main", "--home", str(tmp_path / "no-home"), *args],
        capture_output=True,
        input=input,
        cwd=tmp_path,
        check=False,
    )


def resign(lineage: Lineage, doc: dict[str, Any]) -> dict[str, Any]:
    """The bundle as the controller's key would sign it (a lie told with a valid key)."""
    from lineage.signing import signing_key

    body = {k: v for k, v in doc.items() if k != "signature"}
    value = signing_key(lineage.home).sign(canonical(body))
    return {**body, "signature": {**doc["signature"], "value": base64.b64encode(value).decode()}}


def test_key_is_created_once_owner_only_and_exported(lineage: Lineage, tmp_path: Path) -> None:
    assert not (lineage.home / "signing.key").exists()
    first = lineage.json("key", "public")
    key = lineage.home / "signing.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert first == lineage.json("key", "public"), "created on first need, then kept"
    assert first["public_key"].startswith("-----BEGIN PUBLIC KEY-----")
    assert "PRIVATE" not in lineage.ok("key", "public").stdout
    key.chmod(0o644)
    loose = lineage("key", "public")
    assert loose.exit_code == 2 and "chmod 600" in loose.stderr
    key.chmod(0o600)
    assert lineage("--home", str(tmp_path / "none"), "key", "public").exit_code == 2


def test_an_authority_verifies_with_the_public_key_alone(
    signed: tuple[Lineage, str, Path, Path], tmp_path: Path
) -> None:
    lineage, rid, bundle, pem = signed
    done = outsider(tmp_path, "erasure", "verify", str(bundle), "--public-key", str(pem))
    assert done.returncode == 0, done.stderr
    assert (
        f"valid: request {rid}" in done.stdout.decode()
        and "log not checked" in done.stdout.decode()
    )
    piped = outsider(
        tmp_path, "erasure", "verify", "-", "--public-key", str(pem), "--format", "json",
        input=bundle.read_bytes(),
    )  # fmt: skip
    result = json.loads(piped.stdout)
    assert result["valid"] and result["log_checked"] is False and result["events"] >= 4
    fingerprint = lineage.json("key", "public")["fingerprint"]
    assert result["fingerprint"] == fingerprint
    assert fingerprint in bundle.with_suffix(".html").read_text(), "the page shows whose key"
    # With the home, the records are also checked in the log at the positions stated.
    home = lineage.json("erasure", "verify", str(bundle))
    assert home["log_checked"] is True and home["key"] == "home"
    # A key the authority got from someone else does not verify it.
    other = Lineage(tmp_path / "other")
    other.ok("init")
    wrong = tmp_path / "other.pem"
    other.ok("key", "public", "--output", str(wrong))
    bad = outsider(tmp_path, "erasure", "verify", str(bundle), "--public-key", str(wrong))
    assert bad.returncode == 1 and b"signed by another key" in bad.stderr
    nokey = outsider(tmp_path, "erasure", "verify", str(bundle))
    assert nokey.returncode == 1 and b"--public-key" in nokey.stderr


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_changing_any_signed_byte_fails_in_one_line(
    signed: tuple[Lineage, str, Path, Path], tmp_path: Path, data: st.DataObject
) -> None:
    _lineage, _rid, bundle, pem = signed
    raw = bytearray(bundle.read_bytes())
    original = json.loads(raw)
    at = data.draw(st.integers(0, len(raw) - 1))
    raw[at] ^= data.draw(st.integers(1, 255))
    try:
        changed = json.loads(bytes(raw))
        assume(changed != original)  # whitespace between tokens is not signed
    except ValueError:
        pass
    path = tmp_path / "changed.json"
    path.write_bytes(bytes(raw))
    result = Lineage(tmp_path / "no-home")("erasure", "verify", str(path), "--public-key", str(pem))
    assert result.exit_code in (1, 2), result.output
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit)


def test_consistency_and_the_log_are_checked_under_a_valid_signature(
    signed: tuple[Lineage, str, Path, Path],
) -> None:
    lineage, _rid, bundle, _pem = signed
    doc = json.loads(bundle.read_text())
    path = bundle.parent / "lie.json"

    def verify(d: dict[str, Any]) -> Any:
        path.write_text(json.dumps(resign(lineage, d)))
        return lineage("erasure", "verify", str(path))

    record = json.loads(json.dumps(doc))
    record["events"][0]["sha256"] = hashlib.sha256(b"another record").hexdigest()
    lied = verify(record)
    assert lied.exit_code == 1 and "is not the one stated" in lied.stderr
    dropped = json.loads(json.dumps(doc))
    dropped["events"] = [e for e in dropped["events"] if e.get("status") != "confirmed"]
    lied = verify(dropped)
    assert lied.exit_code == 1 and "but the events show" in lied.stderr
    moved = json.loads(json.dumps(doc))
    moved["events"].reverse()
    lied = verify(moved)
    assert lied.exit_code == 1 and "out of order" in lied.stderr


def test_unreadable_bundle_or_key_is_exit_2(
    signed: tuple[Lineage, str, Path, Path], tmp_path: Path
) -> None:
    _lineage, _rid, bundle, pem = signed
    for args, where in (
        (("erasure", "verify", str(tmp_path / "missing.json")), "missing.json"),
        (("erasure", "verify", str(pem)), "not a JSON evidence bundle"),
        (("erasure", "verify", str(bundle), "--public-key", str(bundle)), "not a PEM"),
    ):
        done = outsider(tmp_path, *args)
        assert done.returncode == 2 and where.encode() in done.stderr, done.stderr
        assert done.stderr.count(b"\n") == 1 and b"Traceback" not in done.stderr
    (tmp_path / "other.json").write_text('{"format": "something else"}')
    done = outsider(tmp_path, "erasure", "verify", str(tmp_path / "other.json"))
    assert done.returncode == 2 and b"not a lineage evidence bundle" in done.stderr


def test_old_hmac_bundles_verify_only_with_their_home(
    signed: tuple[Lineage, str, Path, Path], tmp_path: Path
) -> None:
    from lineage.config import resolve

    lineage, _rid, bundle, pem = signed
    body = {k: v for k, v in json.loads(bundle.read_text()).items() if k != "signature"}
    body["format"] = HMAC_FORMAT
    key = evidence_key(resolve(lineage.home).pseudonym_key())
    mac = hmac.new(key, canonical(body), hashlib.sha256).hexdigest()
    old = tmp_path / "old.json"
    old.write_text(json.dumps({**body, "signature": {"alg": "HMAC-SHA-256", "value": mac}}))
    done = lineage.ok("erasure", "verify", str(old))
    assert "verifiable only with this home" in done.stdout
    away = outsider(tmp_path, "erasure", "verify", str(old), "--public-key", str(pem))
    assert away.returncode == 1 and b"verifiable only with this home" in away.stderr
    body["log_id"] = "changed"
    old.write_text(json.dumps({**body, "signature": {"alg": "HMAC-SHA-256", "value": mac}}))
    assert lineage("erasure", "verify", str(old)).exit_code == 1


def _readme_block(marker: str) -> str:
    text = README.read_text()
    found = re.search(rf"<!-- {marker} -->\n```\w*\n(.*?)```", text, re.S)
    assert found, f"README has no block after <!-- {marker} -->"
    return found.group(1)


def test_readme_python_check_verifies_and_rejects(
    signed: tuple[Lineage, str, Path, Path], tmp_path: Path
) -> None:
    _lineage, _rid, bundle, pem = signed
    script = tmp_path / "check.py"
    script.write_text(_readme_block("verify-python"))
    ok = subprocess.run([sys.executable, str(script), str(bundle), str(pem)], capture_output=True)
    assert ok.returncode == 0 and b"signature valid" in ok.stdout, ok.stderr
    doc = json.loads(bundle.read_text())
    doc["request"]["status"] = "completed" if doc["request"]["status"] != "completed" else "open"
    changed = tmp_path / "changed.json"
    changed.write_text(json.dumps(doc))
    bad = subprocess.run([sys.executable, str(script), str(changed), str(pem)], capture_output=True)
    assert bad.returncode != 0


@pytest.mark.skipif(shutil.which("openssl") is None, reason="no openssl on this machine")
def test_readme_openssl_check_verifies_and_rejects(
    signed: tuple[Lineage, str, Path, Path], tmp_path: Path
) -> None:
    lineage, _rid, bundle, pem = signed
    work = tmp_path / "authority"
    work.mkdir()
    shutil.copy(bundle, work / "bundle.json")
    shutil.copy(pem, work / "controller.pem")
    block = _readme_block("verify-openssl")
    run = subprocess.run(["sh", "-e"], input=block, cwd=work, capture_output=True, text=True)
    assert run.returncode == 0 and "Signature Verified Successfully" in run.stdout, run.stderr
    assert lineage.json("key", "public")["fingerprint"] in run.stdout, "the fingerprint line"
    doc = json.loads(bundle.read_text())
    doc["events"][0]["holder"] = "someone-else"
    (work / "bundle.json").write_text(json.dumps(doc))
    bad = subprocess.run(["sh", "-e"], input=block, cwd=work, capture_output=True, text=True)
    assert bad.returncode != 0 and "Signature Verified Successfully" not in bad.stdout
