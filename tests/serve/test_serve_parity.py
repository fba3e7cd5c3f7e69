"""The service answers what the CLI answers: for each command, the CLI's ``--format json``
(or document) and the API's answer are equal, on the sample webshop with its catalog."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.serve.conftest import Server, _env, cli, started

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "webshop"
CATALOG = str(EXAMPLE / "lineage.yaml")
JANE = "jane.doe@example.dk"
AS_OF = "2025-06-01T00:00:00Z"
RECEIVED = "2025-05-20T00:00:00Z"


def run(home: Path, *args: str) -> str:
    done = cli(home, *args)
    assert done.returncode in (0, 1), done.stderr  # audit exits 1 on findings
    return done.stdout


def js(home: Path, *args: str) -> Any:
    return json.loads(run(home, *args, "--format", "json"))


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("parity") / "home"
    assert cli(home, "init").returncode == 0
    done = cli(home, "emit", "--catalog", CATALOG, "--file", str(EXAMPLE / "events.jsonl"))
    assert done.returncode == 0, done.stderr
    return home


@pytest.fixture(scope="module")
def cli_answers(home: Path) -> dict[str, Any]:
    """Everything the CLI answers, asked before the service takes the projection."""
    c = ["--catalog", CATALOG]
    return {
        "who-has": js(home, "who-has", JANE, "--as-of", AS_OF, *c),
        "who-has-id": js(home, "who-has", "--id", f"email={JANE}", "--as-of", AS_OF, *c),
        # Two identifiers of one kind: both count (neither may replace the other).
        "who-has-two": js(home, "who-has", JANE, "--id", f"email={OTHER}", "--as-of", AS_OF, *c),
        "who-has-ids": js(
            home,
            "who-has",
            "--id",
            f"email={OTHER}",
            "--id",
            f"email={JANE}",
            "--as-of",
            AS_OF,
            *c,
        ),
        # Refusals and empty answers: the same lines and exit codes both ways.
        **{" ".join(args): outcome(home, *args) for args in OUTCOMES},
        "recipients": js(home, "recipients", JANE),
        "access": js(home, "access", JANE, "--as-of", AS_OF, *c),
        "access-md": run(
            home, "access", JANE, "--as-of", AS_OF, "--format", "md", "--lang", "da", *c
        ),
        "access-html": run(home, "access", JANE, "--as-of", AS_OF, "--format", "html", *c),
        "exposed": js(home, "exposed", "--holder", "mailchimp", "--at", AS_OF, "--references", *c),
        "audit": js(home, "audit", "--as-of", AS_OF, *c),
        "status": js(home, "status"),
        "dlq": js(home, "dlq", "list"),
        "erasure-status": js(home, "erasure", "status", "--as-of", AS_OF),
        "erase-dry": js(home, "erase", JANE, "--dry-run", "--received-at", RECEIVED, *c),
        "restrict-dry": js(home, "restrict", JANE, "--dry-run"),
        "rectify-dry": js(home, "rectify", JANE, "--categories", "user.name", "--dry-run", *c),
        "withdraw-dry": js(home, "consent", "withdraw", JANE, "--use", "marketing", "--dry-run"),
        "map": run(home, "map", "--format", "dot", "-o", "-", "--as-of", AS_OF, *c),
        "map-jane": run(
            home, "map", "--subject", JANE, "--format", "dot", "-o", "-", "--as-of", AS_OF, *c
        ),
        "map-da": run(
            home, "map", "--format", "dot", "-o", "-", "--as-of", AS_OF, "--lang", "da", *c
        ),
        "map-jane-da": run(
            home,
            "map",
            "--subject",
            JANE,
            "--format",
            "dot",
            "-o",
            "-",
            "--as-of",
            AS_OF,
            "--lang",
            "da",
            *c,
        ),
        **{
            f"ropa-{fmt}": run(home, "ropa", "--format", fmt, "--as-of", AS_OF, *c)
            for fmt in ("json", "csv", "markdown", "html")
        },
        # What people read: the same commands' tables.
        **{" ".join(args): run(home, *args) for args in TEXT_COMMANDS},
    }


OTHER = "nobody@example.com"
OUTCOMES = [
    ("map", "--subject", OTHER, "--format", "dot", "-o", "-", "--as-of", AS_OF),
    ("erasure", "status", "no-such-request", "--overdue"),
    ("who-has", "--id", "nonsense"),
]


def outcome(
    home: Path | None, *args: str, env: dict[str, str] | None = None
) -> tuple[int, str, str]:
    """Exit code, stdout and stderr of one command (on the home, or through the service)."""
    where = ["--home", str(home)] if home else ["--home", "/nonexistent"]
    done = subprocess.run(
        [sys.executable, "-m", "lineage.cli.main", *where, *args],
        capture_output=True,
        text=True,
        env=env or _env(),
        check=False,
    )
    return done.returncode, done.stdout, done.stderr


ENGLISH_COMMANDS = [
    ("who-has", JANE, "--as-of", AS_OF, "--catalog", CATALOG),
    ("recipients", JANE),
    ("exposed", "--holder", "mailchimp", "--at", AS_OF, "--catalog", CATALOG),
    ("audit", "--as-of", AS_OF, "--catalog", CATALOG),
    ("erasure", "status", "--as-of", AS_OF),
    ("erasure", "due"),
    ("dlq", "list"),
    ("erase", JANE, "--dry-run", "--received-at", RECEIVED, "--catalog", CATALOG),
]
# ... and in Danish: rendered from the same JSON, here and through the service.
TEXT_COMMANDS = [*ENGLISH_COMMANDS, *((*args, "--lang", "da") for args in ENGLISH_COMMANDS)]


@pytest.fixture(scope="module")
def server(home: Path, cli_answers: dict[str, Any]) -> Iterator[Server]:
    yield from started(home, "--catalog", CATALOG)


def _without(data: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k not in keys}


def test_answers_equal_the_cli(server: Server, cli_answers: dict[str, Any]) -> None:
    want = cli_answers
    with server.client("admin") as c:
        jane = {"identifier": JANE, "as_of": AS_OF}
        assert c.post("/v1/who-has", json=jane).json() == want["who-has"]
        by_id = {"ids": {"email": JANE}, "as_of": AS_OF}
        assert c.post("/v1/who-has", json=by_id).json() == want["who-has-id"]
        recipients = c.post("/v1/recipients", json={"identifier": JANE}).json()
        assert _without(recipients, "as_of") == _without(want["recipients"], "as_of")
        assert c.post("/v1/access", json=jane).json() == want["access"]
        md = c.post("/v1/access", json={**jane, "format": "md", "lang": "da"})
        assert md.headers["content-type"].startswith("text/markdown")
        assert md.text == want["access-md"]
        assert c.post("/v1/access", json={**jane, "format": "html"}).text == want["access-html"]
        exposed = c.get(
            "/v1/exposed", params={"holder": "mailchimp", "at": AS_OF, "references": True}
        )
        assert exposed.json() == want["exposed"]
        assert c.get("/v1/audit", params={"as_of": AS_OF}).json() == want["audit"]
        assert c.get("/v1/status").json() == want["status"]
        assert c.get("/v1/dead-letters").json() == want["dlq"]
        assert (
            c.get("/v1/erasure/requests", params={"as_of": AS_OF}).json() == want["erasure-status"]
        )
        erase = {"identifier": JANE, "dry_run": True, "received_at": RECEIVED}
        assert c.post("/v1/erase", json=erase).json() == want["erase-dry"]
        restrict = c.post("/v1/restrict", json={"identifier": JANE, "dry_run": True}).json()
        assert _without(restrict, "received_at", "deadline") == _without(
            want["restrict-dry"], "received_at", "deadline"
        )
        rectify = {"identifier": JANE, "categories": ["user.name"], "dry_run": True}
        assert _without(c.post("/v1/rectify", json=rectify).json(), "received_at", "deadline") == (
            _without(want["rectify-dry"], "received_at", "deadline")
        )
        withdraw = {"identifier": JANE, "use": "marketing", "dry_run": True}
        withdrawn = c.post("/v1/consent/withdraw", json=withdraw).json()
        assert _without(withdrawn, "received_at", "deadline") == (
            _without(want["withdraw-dry"], "received_at", "deadline")
        )
        assert {t["holder"] for t in withdrawn["tasks"]}, "the webshop's marketing recipients"
        company = c.get("/v1/map", params={"format": "dot", "as_of": AS_OF})
        assert company.text == want["map"]
        one = c.post("/v1/map", json={**jane, "format": "dot"})
        assert one.text == want["map-jane"]
        danish = c.get("/v1/map", params={"format": "dot", "as_of": AS_OF, "lang": "da"})
        assert danish.text == want["map-da"] and "UGYLDIG overførsel" in danish.text
        one = c.post("/v1/map", json={**jane, "format": "dot", "lang": "da"})
        assert one.text == want["map-jane-da"] and "UGYLDIG overførsel" in one.text
        unknown = c.get("/v1/map", params={"format": "dot", "lang": "xx"})
        assert unknown.status_code == 422 and "lang" in unknown.text
        for fmt, suffix in (("json", "json"), ("csv", "csv"), ("markdown", "md"), ("html", "html")):
            ropa = c.get("/v1/ropa", params={"format": fmt, "as_of": AS_OF})
            assert ropa.headers["content-disposition"] == f'attachment; filename="ropa.{suffix}"'
            assert ropa.text == want[f"ropa-{fmt}"], fmt
        xlsx = c.get("/v1/ropa", params={"format": "xlsx", "as_of": AS_OF})
        assert xlsx.content[:2] == b"PK"  # a zip: the workbook
        assert xlsx.headers["content-disposition"] == 'attachment; filename="ropa.xlsx"'


def test_the_cli_through_the_service_prints_what_it_prints_alone(
    server: Server, cli_answers: dict[str, Any]
) -> None:
    """With LINEAGE_URL and LINEAGE_TOKEN the commands ask the service (the home is not
    even given) and print exactly what they printed working on the home's files."""
    env = {**_env(), "LINEAGE_URL": server.url, "LINEAGE_TOKEN": server.token("admin")}

    def via(*args: str, code: int = 0) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "lineage.cli.main", "--home", "/nonexistent", *args],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        assert done.returncode == code, done.stderr
        return done.stdout

    def vj(*args: str, code: int = 0) -> Any:
        return json.loads(via(*args, "--format", "json", code=code))

    want = cli_answers
    assert vj("who-has", JANE, "--as-of", AS_OF) == want["who-has"]
    assert vj("who-has", "--id", f"email={JANE}", "--as-of", AS_OF) == want["who-has-id"]
    two = vj("who-has", JANE, "--id", f"email={OTHER}", "--as-of", AS_OF)
    assert two == want["who-has-two"]
    assert two["holders"]  # Jane's, although the --id of another e-mail came last
    ids = vj("who-has", "--id", f"email={OTHER}", "--id", f"email={JANE}", "--as-of", AS_OF)
    assert ids == want["who-has-ids"]
    assert ids["holders"]  # both e-mails were asked about
    for args in OUTCOMES:
        assert outcome(None, *args, env=env) == want[" ".join(args)], args
    assert want[" ".join(OUTCOMES[0])][0] == 1
    # Projection files are this machine's: through the service, one line saying so.
    for option in (("--shards", "2"), ("--projection", "projection.duckdb")):
        code, out, err = outcome(None, "who-has", JANE, *option, env=env)
        assert (code, out) == (2, "") and err.count("\n") == 1, err
        assert err.startswith(f"error: {option[0]}: reads projection files"), err
        assert "unset LINEAGE_URL" in err
    assert _without(vj("recipients", JANE), "as_of") == _without(want["recipients"], "as_of")
    assert vj("access", JANE, "--as-of", AS_OF) == want["access"]
    md = via("access", JANE, "--as-of", AS_OF, "--format", "md", "--lang", "da")
    assert md == want["access-md"]
    assert via("access", JANE, "--as-of", AS_OF, "--format", "html") == want["access-html"]
    exposed = vj("exposed", "--holder", "mailchimp", "--at", AS_OF, "--references")
    assert exposed == want["exposed"]
    assert vj("audit", "--as-of", AS_OF, code=1) == want["audit"]
    assert vj("status") == want["status"]
    assert vj("dlq", "list") == want["dlq"]
    assert vj("erasure", "status", "--as-of", AS_OF) == want["erasure-status"]
    erase = vj("erase", JANE, "--dry-run", "--received-at", RECEIVED)
    assert erase == want["erase-dry"]
    restrict = vj("restrict", JANE, "--dry-run")
    assert _without(restrict, "received_at", "deadline") == _without(
        want["restrict-dry"], "received_at", "deadline"
    )
    rectify = vj("rectify", JANE, "--categories", "user.name", "--dry-run")
    assert _without(rectify, "received_at", "deadline") == _without(
        want["rectify-dry"], "received_at", "deadline"
    )
    withdrawn = vj("consent", "withdraw", JANE, "--use", "marketing", "--dry-run")
    assert _without(withdrawn, "received_at", "deadline") == _without(
        want["withdraw-dry"], "received_at", "deadline"
    )
    assert via("map", "--format", "dot", "-o", "-", "--as-of", AS_OF) == want["map"]
    jane_map = via("map", "--subject", JANE, "--format", "dot", "-o", "-", "--as-of", AS_OF)
    assert jane_map == want["map-jane"]
    map_da = ("map", "--format", "dot", "-o", "-", "--as-of", AS_OF, "--lang", "da")
    assert via(*map_da) == want["map-da"]
    assert via(*map_da, "--subject", JANE) == want["map-jane-da"]
    for fmt in ("json", "csv", "markdown", "html"):
        assert via("ropa", "--format", fmt, "--as-of", AS_OF) == want[f"ropa-{fmt}"], fmt
    for args in TEXT_COMMANDS:
        code = 1 if args[0] == "audit" else 0
        assert via(*args, code=code) == want[" ".join(args)], args
    danish = " ".join(ENGLISH_COMMANDS[0]) + " --lang da"
    assert want[danish] != want[" ".join(ENGLISH_COMMANDS[0])] and "UGYLDIGT" in want[danish]
    # The service's refusals are the CLI's one-line errors with its exit codes.
    done = subprocess.run(
        [sys.executable, "-m", "lineage.cli.main", "who-has", JANE],
        capture_output=True,
        text=True,
        env={**env, "LINEAGE_TOKEN": server.token("ingest")},
        check=False,
    )
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert "needs read" in done.stderr
    unknown = via("erasure", "status", "no-such-request", code=2)
    assert unknown == ""


def test_rights_requests_through_the_service_are_the_cli_s(
    server: Server, home: Path, cli_answers: dict[str, Any]
) -> None:
    """A request recorded through the API; the CLI, once the service stopped, reports it
    exactly as the API did."""
    with server.client("rights") as c:
        made = c.post("/v1/erase", json={"identifier": JANE, "no_run": True})
        assert made.status_code == 200
        request_id = made.json()["request_id"]
        again = c.post("/v1/erase", json={"identifier": JANE, "no_run": True})
        assert again.status_code == 409
        assert again.json()["request_id"] == request_id
        extended = c.post(
            f"/v1/erasure/requests/{request_id}/extend",
            json={"reason": "many archives", "months": 1},
        )
        assert extended.status_code == 200
        holder = made.json()["tasks"][0]["holder"]
        confirmed = c.post(f"/v1/erasure/requests/{request_id}/confirm", json={"holder": holder})
        assert confirmed.status_code in (200, 422)  # a retained task cannot be confirmed yet
        withdrawn = c.post(
            "/v1/consent/withdraw", json={"identifier": JANE, "use": "marketing.communications"}
        )
        assert withdrawn.status_code == 200, withdrawn.text
        withdrawal = withdrawn.json()["request_id"]
        # The webshop's ingested withdrawals get their notices; the API's had them already.
        first = c.post("/v1/consent/notices", json={}).json()["opened"]
        assert withdrawal not in {r["request_id"] for r in first}
        assert c.post("/v1/consent/notices", json={}).json() == {"opened": []}
    with server.client("read") as c:
        api = c.get(f"/v1/erasure/requests/{request_id}").json()
        api_withdrawal = c.get(f"/v1/erasure/requests/{withdrawal}").json()
        due = c.get("/v1/erasure/due").json()
    env = {**_env(), "LINEAGE_URL": server.url, "LINEAGE_TOKEN": server.token("read")}
    # Overdue judged long after the deadline (exit 1, listed) and now (not overdue).
    overdue = [
        ("erasure", "status", request_id, "--overdue", *more)
        for more in (
            ("--as-of", "2099-01-01T00:00:00Z"),
            ("--as-of", "2099-01-01T00:00:00Z", "--format", "json"),
            (),
            ("--format", "json"),
        )
    ]
    via = [outcome(None, *args, env=env) for args in overdue]
    assert [code for code, _, _ in via] == [1, 1, 0, 0]
    assert via[2][1] == "no overdue requests\n"
    server.stop()
    try:
        assert js(home, "erasure", "status", withdrawal) == api_withdrawal
        assert api_withdrawal["requests"][0]["kind"] == "withdrawal"
        assert [outcome(home, *args) for args in overdue] == via
        assert js(home, "erasure", "status", request_id) == api
        assert js(home, "erasure", "due") == due
        assert api["requests"][0]["extensions"][0]["reason"] == "many archives"
    finally:
        server.start()


def test_an_empty_home_answers_alike(tmp_path: Path) -> None:
    """Nothing recorded yet: the map has nothing to draw, the same line and exit code alone
    and through the service."""
    home = tmp_path / "home"
    assert cli(home, "init").returncode == 0
    commands = [("map", "--format", "dot", "-o", "-"), ("erasure", "status", "--overdue")]
    alone = [outcome(home, *args) for args in commands]
    assert alone[0][0] == 1 and "nothing to draw" in alone[0][2]
    for server in started(home):
        env = {**_env(), "LINEAGE_URL": server.url, "LINEAGE_TOKEN": server.token("read")}
        assert [outcome(None, *args, env=env) for args in commands] == alone
