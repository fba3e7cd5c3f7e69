"""``lineage serve`` killed (SIGKILL) while clients ingest: every acknowledged event is in
the log after a restart, and retrying the rest records no duplicates."""

from __future__ import annotations

import signal
import threading
import time
from collections import Counter
from pathlib import Path

import httpx

from lineage.codec import default_codec
from lineage.log.file import FileLog
from tests.conftest import collected, shared
from tests.serve.conftest import Server, cli


def _batch(n: int) -> list[dict[str, object]]:
    email = f"crash{n}@example.com"
    return [collected(email), shared(email)]


def test_sigkill_during_ingest(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert cli(home, "init").returncode == 0
    # Every batch through the workers, so the kill finds them at work.
    server = Server(home, "--ingest-threshold", "0")
    token = server.token("admin")
    server.start()
    acked: set[int] = set()
    sent: list[int] = []
    lock = threading.Lock()
    counter = iter(range(10**6))

    def client() -> None:
        with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {token}"}) as c:
            while True:
                with lock:
                    n = next(counter)
                    sent.append(n)
                try:
                    answer = c.post("/v1/events", json=_batch(n), timeout=5)
                except httpx.TransportError:
                    return  # the server is gone
                if answer.status_code == 200:
                    with lock:
                        acked.add(n)

    threads = [threading.Thread(target=client) for _ in range(4)]
    for t in threads:
        t.start()
    while len(acked) < 20:
        time.sleep(0.01)
    workers = server.workers()
    assert workers  # one per CPU by default
    server.stop(signal.SIGKILL)
    # Its ingest workers leave with it (nobody would ever give them work again).
    deadline = time.monotonic() + 10
    while any(Path(f"/proc/{pid}").exists() for pid in workers):
        assert time.monotonic() < deadline, "ingest workers outlived the killed service"
        time.sleep(0.05)
    for t in threads:
        t.join(10)

    # Every acknowledged event is in the log.
    codec = default_codec()
    log = FileLog(home / "log")
    logged = [codec.decode(e.value) for e in log.read() if e.value is not None]
    log.close()
    per_subject = Counter(e["envelope"]["subject_ref"] for e in logged)
    after = cli(home, "status")  # the CLI opens the projection and the log after the crash
    assert after.returncode == 0, after.stderr
    server.start()
    try:
        with server.client() as c:
            for n in sorted(acked):
                ask = {"identifier": f"crash{n}@example.com", "as_of": "2025-01-01T00:00:00Z"}
                ref = c.post("/v1/who-has", json=ask).json()["subject"]
                assert per_subject[ref] >= 2  # both events of the batch
            # The client retries everything it sent, acknowledged or not.
            for n in sent:
                assert c.post("/v1/events", json=_batch(n)).status_code == 200
            status = server.wait_projected(c)
            assert status["projection"]["events"] == 2 * len(sent)
            for n in sent:
                ask = {"identifier": f"crash{n}@example.com", "as_of": "2025-01-01T00:00:00Z"}
                holders = c.post("/v1/who-has", json=ask).json()["holders"]
                assert sorted(h["holder"] for h in holders) == ["e-conomic", "webshop-db"]
    finally:
        server.stop()
