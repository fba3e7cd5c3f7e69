"""The SDK: ``Recorder`` into a home (threads, bad calls, the edge), ``Client`` against a real
``lineage serve`` on 127.0.0.1, its retries, and the README's examples run as written."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from lineage.errors import InputError
from lineage.sdk import Client, Recorder, ServiceError
from tests.serve.conftest import _env, cli, started

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "sdk"


def collected(rec: Recorder | Client, email: str, **kw: object) -> None:
    rec.collected(
        {"email": email},
        categories=["user.contact.email"],
        system="webshop-db",
        purpose="essential.service",
        legal_basis="contract",
        data_subject="customer",
        **kw,
    )


@pytest.fixture
def home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    assert cli(home, "init").returncode == 0
    return home


def status(home: Path) -> dict[str, object]:
    """The projection's counts, once it has caught up with the log."""
    assert cli(home, "project").returncode == 0
    done = cli(home, "status", "--format", "json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)["projection"]  # type: ignore[no-any-return]


def log_bytes(home: Path) -> bytes:
    return b"".join(p.read_bytes() for p in home.rglob("*") if p.is_file() and "log" in p.parts)


def test_recorder_from_many_threads(home: Path) -> None:
    threads, each = 8, 60
    with Recorder(home=home, batch_size=25) as rec:

        def work(t: int) -> None:
            for i in range(each):
                collected(rec, f"person{t}-{i}@example.com")

        pool = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
        for th in pool:
            th.start()
        for th in pool:
            th.join()
    assert rec.recorded == threads * each and rec.pending == 0
    projected = status(home)
    assert projected["events"] == threads * each
    assert projected["subject_refs"] == threads * each
    assert b"@example.com" not in log_bytes(home)  # pseudonymised at the edge


def test_a_bad_call_raises_and_buffers_nothing(home: Path) -> None:
    with Recorder(home=home) as rec:
        collected(rec, "jane@example.com")
        with pytest.raises(InputError, match=r"user\.contact\.emale"):
            rec.collected(
                "jane@example.com",
                categories=["user.contact.emale"],
                system="webshop-db",
                purpose="essential.service",
                legal_basis="contract",
                data_subject="customer",
            )
        with pytest.raises(InputError, match="time zone"):
            collected(rec, "jane@example.com", at="2024-01-01T00:00:00")
        assert rec.pending == 1
    assert rec.recorded == 1


def test_free_text_is_scrubbed_and_flush_is_explicit(home: Path) -> None:
    rec = Recorder(home=home, batch_size=1000)
    rec.consent_withdrawn(
        "jane@example.com",
        purpose="marketing.communications.email",
        evidence={"channel": "mail from jane@example.com"},
    )
    assert status(home)["events"] == 0  # buffered, not yet in the log
    result = rec.flush()
    assert result is not None and result.appended == 1
    assert rec.flush() is None
    rec.close()
    assert b"jane@example.com" not in log_bytes(home)
    assert status(home)["events"] == 1


def test_client_against_the_service(home: Path) -> None:
    for server in started(home):
        with Client(server.url, server.token("admin"), source="shop") as client:
            collected(client, "jane@example.com")
            client.erased("jane@example.com", holder="webshop-db")
            assert client.pending == 2
            answer = client.flush()
            assert answer is not None and answer["appended"] == 2
            with server.client() as admin:
                server.wait_projected(admin)
            held = client.who_has("jane@example.com")
            assert [h["status"] for h in held["holders"]] == ["erased"]
            assert client.status()["projection"]["events"] == 2
            # One bad event: 422 naming it, nothing recorded, the buffer kept for a retry.
            collected(client, "joe@example.com")
            client.collected(
                "joe@example.com",
                categories=["nope"],
                system="s",
                purpose="essential.service",
                legal_basis="contract",
                data_subject="customer",
            )
            with pytest.raises(ServiceError) as info:
                client.flush()
            assert info.value.status == 422 and info.value.where == "body[1]"
            assert client.pending == 2
            client._buffer.pop()  # the caller drops the bad one and tries again
            again = client.flush()
            assert again is not None and again["appended"] == 1
        with Client(server.url, server.token("ingest")) as ingest_only:
            with pytest.raises(ServiceError) as refused:
                ingest_only.who_has("jane@example.com")
            assert refused.value.status == 403 and refused.value.exit_code == 2
        with (
            Client(server.url, "wrong") as stranger,
            pytest.raises(ServiceError, match="unknown or revoked token"),
        ):
            stranger.status()


def test_client_retries_429_and_503_honouring_retry_after() -> None:
    calls: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(time.monotonic())
        if len(calls) <= 2:
            status = 429 if len(calls) == 1 else 503
            return httpx.Response(status, headers={"Retry-After": "0.3"}, json={"error": "busy"})
        return httpx.Response(200, json={"appended": 1})

    with Client("http://lineage.test", "t", transport=httpx.MockTransport(handler)) as client:
        collected(client, "jane@example.com")
        assert client.flush() == {"appended": 1}
    assert len(calls) == 3
    assert calls[1] - calls[0] >= 0.3 and calls[2] - calls[1] >= 0.3

    def always_busy(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503, headers={"Retry-After": "0"}, json={"error": "log busy"})

    busy = Client("http://lineage.test", "t", retries=2, transport=httpx.MockTransport(always_busy))
    with busy, pytest.raises(ServiceError, match="log busy") as info:
        busy.status()
    assert info.value.exit_code == 3


def _code(example: Path) -> str:
    """The example without its docstring: what the README shows."""
    text = example.read_text()
    return text[text.index('"""', 3) + 3 :].strip()


def test_the_readme_examples_run(home: Path) -> None:
    readme = (ROOT / "README.md").read_text()
    for example in ("embedded.py", "remote.py"):
        assert _code(EXAMPLES / example) in readme, f"README shows {example} as it is"
    env = {**_env(), "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / "embedded.py"), str(home)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "recorded 5 events"  # four events and one identity link
    for server in started(home):
        env = {**env, "LINEAGE_URL": server.url, "LINEAGE_TOKEN": server.token("admin")}
        done = subprocess.run(
            [sys.executable, str(EXAMPLES / "remote.py")],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        lines = done.stdout.splitlines()
        assert "'appended': 1" in lines[0]
        assert "newsletter-db user.contact.email" in lines
        assert "webshop-db user.contact.email, user.name" in lines


def test_the_sdk_needs_no_web_stack_to_record() -> None:
    code = "import sys, lineage.sdk; lineage.sdk.Recorder; print('httpx' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
