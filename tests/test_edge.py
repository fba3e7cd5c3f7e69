"""The edge: normalisation, pseudonymisation, the key, and raw identifiers staying out."""

from __future__ import annotations

import hashlib
import hmac
import os
import stat
from pathlib import Path

import duckdb
import pytest

from lineage.config import KEY_ENV, KEY_FILE
from lineage.edge.identity import Pseudonymizer, normalise
from lineage.errors import IdentifierError
from tests.conftest import Lineage, collected, shared

KEY = bytes(range(32))


def expected_ref(key: bytes, kind: str, normalised: str) -> str:
    """The documented construction, computed independently of lineage."""
    return hmac.new(key, f"{kind}:{normalised}".encode(), hashlib.sha256).hexdigest()


def file_key(lineage: Lineage) -> bytes:
    # The key's hex is the file's first line; the second is its check.
    return bytes.fromhex((lineage.home / KEY_FILE).read_text().splitlines()[0])


# -- normalisation -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kind", "value", "expected"),
    [
        ("email", "jane@example.com", ("email", "jane@example.com")),
        ("email", "  Jane.Doe@Example.COM \n", ("email", "jane.doe@example.com")),
        ("EMAIL", "JANE@EXAMPLE.COM", ("email", "jane@example.com")),
        ("phone", "+45 12 34 56 78", ("phone", "+4512345678")),
        ("phone", "0045 12-34-56-78", ("phone", "+4512345678")),
        ("phone", "+1 (555) 123.4567", ("phone", "+15551234567")),
        ("phone", "4512345678", ("phone", "+4512345678")),
        # Any other kind is taken as given: case and spacing may be significant there.
        ("customer_number", "1042", ("customer_number", "1042")),
        ("stripe_customer_id", "cus_NffrFeUfNV2Hib", ("stripe_customer_id", "cus_NffrFeUfNV2Hib")),
        ("member_no", " Ab 12 ", ("member_no", " Ab 12 ")),
    ],
)
def test_normalise(kind: str, value: str, expected: tuple[str, str]) -> None:
    assert normalise(kind, value) == expected


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        ("email", "not-an-email"),
        ("email", "@example.com"),
        ("email", "jane@"),
        ("email", "jane doe@example.com"),
        ("email", "   "),
        ("phone", "+45 12 34 ab"),
        ("phone", ""),
        ("customer number", "1042"),
        ("1kind", "x"),
    ],
)
def test_normalise_rejects(kind: str, value: str) -> None:
    with pytest.raises(IdentifierError):
        normalise(kind, value)


# -- pseudonyms --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kind", "value", "normalised"),
    [
        ("email", " Jane@Example.com ", "jane@example.com"),
        ("phone", "0045 12 34 56 78", "+4512345678"),
        ("customer_number", "1042", "1042"),
    ],
)
def test_ref_is_hmac_sha256_of_kind_and_normalised_value(
    kind: str, value: str, normalised: str
) -> None:
    assert Pseudonymizer(KEY).ref(kind, value) == expected_ref(KEY, kind, normalised)


def test_ref_depends_on_kind_key_and_spelling_only_through_normalisation() -> None:
    pseudo = Pseudonymizer(KEY)
    assert pseudo.ref("email", "JANE@example.com") == pseudo.ref("email", "jane@example.com ")
    assert pseudo.ref("customer_number", "42") != pseudo.ref("order_number", "42")
    assert pseudo.ref("customer_number", "AB") != pseudo.ref("customer_number", "ab")
    other = Pseudonymizer(bytes(reversed(KEY)))
    assert other.ref("email", "jane@example.com") != pseudo.ref("email", "jane@example.com")
    assert KEY.hex() not in repr(pseudo)


def test_short_key_is_refused() -> None:
    with pytest.raises(IdentifierError):
        Pseudonymizer(b"too short")


def test_cli_answers_under_the_keyed_hash(lineage: Lineage) -> None:
    assert lineage.emit([collected(email="Jane@Example.com")]).exit_code == 0
    answer = lineage.json("who-has", "jane@EXAMPLE.com ")
    assert answer["subject"] == expected_ref(file_key(lineage), "email", "jane@example.com")
    assert answer["holders"]


# -- the key -----------------------------------------------------------------------------------
def test_init_creates_an_owner_only_random_key(tmp_path: Path) -> None:
    first, second = Lineage(tmp_path / "a"), Lineage(tmp_path / "b")
    first.ok("init")
    second.ok("init")
    path = first.home / KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert not stat.S_IMODE(first.home.stat().st_mode) & 0o077
    key = file_key(first)
    assert len(key) >= 32
    assert key != file_key(second)
    # Running init again keeps the key: every reference made so far depends on it.
    first.ok("init")
    assert file_key(first) == key


def test_environment_key_overrides_the_key_file(
    lineage: Lineage, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_ENV, KEY.hex())
    (lineage.home / KEY_FILE).unlink()  # not needed at all when the environment has the key
    assert lineage.emit([collected()]).exit_code == 0
    answer = lineage.json("who-has", "jane@example.com")
    assert answer["subject"] == expected_ref(KEY, "email", "jane@example.com")
    assert answer["holders"]


def test_environment_key_wins_over_an_existing_key_file(
    lineage: Lineage, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_ENV, KEY.hex())
    lineage.emit([collected()])
    answer = lineage.json("who-has", "jane@example.com")
    assert answer["subject"] == expected_ref(KEY, "email", "jane@example.com")
    assert answer["subject"] != expected_ref(file_key(lineage), "email", "jane@example.com")


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o660, 0o644])
def test_key_file_readable_by_others_is_refused(lineage: Lineage, mode: int) -> None:
    path = lineage.home / KEY_FILE
    os.chmod(path, mode)
    result = lineage.emit([collected()])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "readable by others" in lines[0] and f"chmod 600 {path}" in lines[0]
    assert lineage("who-has", "jane@example.com").exit_code == 2
    os.chmod(path, 0o600)
    assert lineage.emit([collected()]).exit_code == 0


def test_missing_key_names_the_remedy(lineage: Lineage) -> None:
    (lineage.home / KEY_FILE).unlink()
    result = lineage.emit([collected()])
    assert result.exit_code == 2
    assert "lineage init" in result.stderr and KEY_ENV in result.stderr


@pytest.mark.parametrize("value", ["not hex at all", "abcd"])
def test_bad_environment_key_is_refused_without_printing_it(
    lineage: Lineage, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv(KEY_ENV, value)
    result = lineage.emit([collected()])
    assert result.exit_code == 2
    assert KEY_ENV in result.stderr
    assert value not in result.output + result.stderr


# -- raw identifiers never reach the log or the projection -------------------------------------
EMAIL = "Jane.Raw-Identifier@Example.COM"
PHONE = "+45 87 65 43 21"
CUSTOMER = "CUST-7319-RAW"
MARKER = "edge-test-marker-source"  # stored as is: proves the byte search can find strings


def _forbidden() -> list[bytes]:
    words = [EMAIL, EMAIL.lower(), "Jane.Raw-Identifier", "jane.raw-identifier"]
    words += [PHONE, "4587654321", CUSTOMER, "7319-RAW"]
    return [w.encode() for w in words]


def test_raw_identifiers_never_reach_log_or_projection(lineage: Lineage) -> None:
    subject = {"email": EMAIL, "phone": PHONE, "customer_number": CUSTOMER}
    events = [
        collected(subject=subject, source=MARKER),
        shared(subject={"phone": PHONE}, source=MARKER),
        {
            "event_type": "IdentityLinked",
            "occurred_at": "2024-02-01T00:00:00Z",
            "subject": {"email": EMAIL},
            "linked": {"customer_number": CUSTOMER},
        },
    ]
    assert lineage.emit(events).exit_code == 0
    lineage.ok(
        "emit",
        "DataErased",
        "--id",
        f"email={EMAIL}",
        "--id",
        f"customer_number={CUSTOMER}",
        "holder=e-conomic",
        "--source",
        MARKER,
    )
    lineage.ok("project")
    assert lineage.json("who-has", EMAIL)["holders"]

    stored = [p for p in lineage.home.rglob("*") if p.is_file() and p.name != KEY_FILE]
    assert any(p.suffix == ".seg" for p in stored)
    assert any(p.name == "projection.duckdb" for p in stored)
    for path in stored:
        data = path.read_bytes()
        for word in _forbidden():
            assert word not in data, f"{word!r} found in {path.name}"
    assert MARKER.encode() in b"".join(p.read_bytes() for p in stored if p.suffix == ".seg")
    assert MARKER.encode() in (lineage.home / "projection.duckdb").read_bytes()

    # The same through SQL, in case the file stores strings compressed.
    con = duckdb.connect(str(lineage.home / "projection.duckdb"), read_only=True)
    try:
        texts: list[str] = []
        for (table,) in con.execute("SELECT table_name FROM information_schema.tables").fetchall():
            for row in con.execute(f'SELECT * FROM "{table}"').fetchall():
                texts.extend(str(v) for v in row)
    finally:
        con.close()
    everything = "\n".join(texts)
    assert MARKER in everything
    for word in _forbidden():
        assert word.decode() not in everything
