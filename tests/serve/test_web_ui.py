"""The web UI in a real browser: Playwright driving Debian's Chromium against ``lineage
serve`` on 127.0.0.1 with the demo company. A DPO signs in, looks a person up, opens an
erasure request, confirms a task, extends the deadline, downloads the Art. 30 record; no
page logs a console error, no identifier appears in a URL or the service's log. Each page's
screenshot is saved under ``tests/artifacts/``."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.serve.conftest import Server, cli, started

CHROMIUM = "/usr/bin/chromium"
# Debian's Chromium, headless, with nothing that calls out to the network on its own.
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # Shared memory in a container can be small; a renderer that runs out of it is killed
    # ("Target closed"). Temporary files instead.
    "--disable-dev-shm-usage",
]
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
JANE = "jane.doe@example.dk"

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
if not Path(CHROMIUM).exists():
    pytest.skip(
        "Debian's chromium is not installed (scripts/check installs it as root)",
        allow_module_level=True,
    )


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    home = tmp_path_factory.mktemp("web") / "home"
    done = cli(home, "demo", "--keep", str(home), "--subjects", "40")
    assert done.returncode == 0, done.stderr
    # Someone else's request, received 25 days ago: a few days left, coloured as urgent.
    now = datetime.now(UTC)
    at = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    exposed = cli(
        home, "exposed", "--holder", "mailchimp", "--at", at, "--references", "--format", "json"
    )

    # Not Jane (nor anyone linked to her, whose answer is hers): her erasure below would
    # find this request open and go to it instead of opening her own.
    def holders(identifier: str) -> Any:
        done = cli(home, "who-has", identifier, "--format", "json")
        return json.loads(done.stdout)["holders"]

    jane = holders(JANE)
    other = next(r for r in json.loads(exposed.stdout)["references"] if holders(r) != jane)
    received = (now - timedelta(days=25)).strftime("%Y-%m-%dT%H:%M:%SZ")
    done = cli(home, "erase", other, "--received-at", received, "--no-run")
    assert done.returncode == 0, done.stderr
    yield from started(home)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield b
        finally:
            b.close()


def _picture(page: Any) -> str:
    """The data map the page shows: the SVG of its <img>'s data URI, with Graphviz's
    entities for hyphens undone."""
    import base64

    img = page.locator("figure.map img")
    sync_api.expect(img).to_be_visible()
    src = img.get_attribute("src")
    assert src.startswith("data:image/svg+xml;base64,")
    return base64.b64decode(src.split(",", 1)[1]).decode().replace("&#45;", "-")


def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_a_dpo_works_through_the_ui(server: Server, browser: Any, tmp_path: Path) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page = context.new_page()
    problems: list[str] = []
    urls: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on("request", lambda r: urls.append(r.url))
    expect = sync_api.expect
    # A loaded CI machine may take longer than Playwright's 5 s default for an erase.
    expect.set_options(timeout=30_000)
    page.set_default_timeout(30_000)

    page.goto(server.url + "/ui/person")
    expect(page).to_have_url(re.compile(r"/ui/login$"))
    shot(page, "01-login")
    page.fill("#token", "lin_not-a-token")
    page.click("button[type=submit]")
    expect(page.get_by_role("alert")).to_contain_text("Unknown or revoked token")
    # The refused sign-in answered 401 on purpose; Chromium logs that status as an error.
    assert [p for p in problems if "401" not in p] == []
    problems.clear()
    page.fill("#token", server.token("admin"))
    page.click("button[type=submit]")
    expect(page).to_have_url(re.compile(r"/ui/person$"))
    cookie = next(c for c in context.cookies() if c["name"] == "lineage_session")
    assert cookie["httpOnly"] and cookie["secure"] and cookie["sameSite"] == "Strict"
    assert server.token("admin") not in cookie["value"]

    # A person, by POST: holders, plain words, overdue retention, an invalid transfer.
    page.fill("#identifier", JANE)
    page.click("form.search button[type=submit]")
    holders = page.locator("table.holders")
    expect(holders).to_contain_text("desk-support-inc")
    expect(holders).to_contain_text("Email")  # fideslang's name, not user.contact.email
    expect(holders.locator(".tag.bad", has_text="not valid")).to_have_count(1)
    expect(holders).to_contain_text("privacy_shield was invalidated on 2020-07-16")
    expect(holders.locator(".tag.bad", has_text="overdue").first).to_be_visible()
    expect(page.locator("figure.map img")).to_be_visible()
    shot(page, "02-person")

    # History: as of a date before the newsletter, fewer holders.
    page.fill("#as_of", "2023-01-01")
    page.click("form.search button[type=submit]")
    expect(holders).not_to_contain_text("mailchimp")
    shot(page, "03-person-history")

    # Danish throughout.
    page.click("button[name=lang][value=da]")
    page.fill("#identifier", JANE)
    page.click("form.search button[type=submit]")
    expect(page.locator("h1")).to_contain_text("Hvis oplysninger")
    expect(holders).to_contain_text("ikke gyldigt")
    # The rule's reason in Danish too (rules.reasons rendered through the catalog).
    expect(holders).to_contain_text("privacy_shield blev erklæret ugyldig den 2020-07-16")
    expect(holders).not_to_contain_text("was invalidated")
    # Her map in the session's language: the SVG in the <img> is Danish.
    svg = _picture(page)
    assert "UGYLDIG overførsel: privacy_shield blev erklæret ugyldig" in svg
    assert "INVALID transfer" not in svg and "Datakort for den registrerede" in svg
    shot(page, "04-person-da")
    page.click("nav >> text=Datakort")
    svg = _picture(page)
    assert "uden for EØS" in svg and "UGYLDIG overførsel" in svg
    assert "outside the EEA" not in svg and "observed flow" not in svg
    shot(page, "04-map-da")
    page.click("nav >> text=Person")
    page.click("button[name=lang][value=en]")

    # Open an erasure request, confirm a task, extend the deadline.
    page.fill("#identifier", JANE)
    page.click("form.search button[type=submit]")
    page.click("button.danger")
    expect(page).to_have_url(re.compile(r"/ui/requests/[0-9a-f-]+$"))
    expect(page.locator("h1")).to_contain_text("erasure")
    shot(page, "05-request")
    row = page.locator("tr", has=page.locator("input[name=holder][value=gavefabrikken]"))
    row.locator("input[name=evidence]").fill("e-mail from the supplier, 2 Dec")
    row.get_by_role("button", name="Confirm").click()
    expect(page.get_by_role("status")).to_contain_text("Recorded")
    gave = page.locator("tr", has_text="gavefabrikken")
    expect(gave).to_contain_text("e-mail from the supplier")
    page.fill("#reason", "many holders to reach")
    page.select_option("#months", "2")
    page.get_by_role("button", name="Extend").click()
    expect(page.locator("main")).to_contain_text("many holders to reach")
    page.get_by_role("button", name="Retry").click()
    expect(page.get_by_role("status")).to_contain_text("Recorded")
    shot(page, "06-request-extended")
    page.click("nav >> text=Requests")
    expect(page.locator("tbody tr")).to_have_count(2)
    ours = page.locator("tbody tr", has=page.locator(".tag", has_text="extended"))
    expect(ours.locator("td").last).to_have_text("9 / 10")  # one task confirmed
    # Received 25 days ago: 3 to 6 days left whatever the month's length.
    expect(page.locator("tbody tr").first.locator(".days.soon")).to_have_text(re.compile("^[3-6]$"))
    shot(page, "07-requests")

    # The Art. 30 record: shown, and downloaded.
    page.click("nav >> text=Art. 30 record")
    frame = page.frame_locator("iframe.doc")
    expect(frame.locator("h1")).to_contain_text("Art. 30")
    shot(page, "08-ropa")
    with page.expect_download() as info:
        page.click("a.button >> text=XLSX")
    saved = tmp_path / "ropa.xlsx"
    info.value.save_as(saved)
    from openpyxl import load_workbook

    assert load_workbook(saved).active.max_row > 5

    page.click("nav >> text=Audit")
    page.select_option("#severity", "error")
    page.click("form.filters button")
    expect(page.locator("tbody tr").first).to_contain_text("error")
    expect(page.locator("tbody tr", has_text="warning")).to_have_count(0)
    shot(page, "09-audit")

    page.click("nav >> text=Data map")
    expect(page.locator("figure.map img")).to_be_visible()
    svg = _picture(page)
    assert "outside the EEA" in svg and "INVALID transfer" in svg and "EØS" not in svg
    shot(page, "10-map")

    page.click("nav >> text=Breach exposure")
    page.select_option("#holder", "mailchimp")
    page.click("form.filters button")
    expect(page.locator("h2")).to_contain_text("mailchimp")
    shot(page, "11-exposed")

    assert problems == []
    assert not [u for u in urls if "jane" in u or "%40" in u]
    assert JANE not in server.log.read_text()
    context.close()


def test_forms_without_the_csrf_token_are_refused(server: Server) -> None:
    with httpx.Client(base_url=server.url) as client:
        login = client.get("/ui/login")
        sid = login.cookies["lineage_session"]
        csrf = re.search(r'name="csrf" value="([^"]+)"', login.text)
        assert csrf is not None
        headers = {"Cookie": f"lineage_session={sid}"}
        refused = client.post("/ui/login", data={"token": server.token("admin")}, headers=headers)
        assert refused.status_code == 403 and "CSRF" in refused.text
        signed = client.post(
            "/ui/login",
            data={"token": server.token("admin"), "csrf": csrf[1]},
            headers=headers,
        )
        assert signed.status_code == 303
        session = {"Cookie": f"lineage_session={signed.cookies['lineage_session']}"}
        page = client.get("/ui/person", headers=session)
        assert page.status_code == 200
        token = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert token is not None
        no_token = client.post("/ui/person", data={"identifier": JANE}, headers=session)
        assert no_token.status_code == 403 and "<html" in no_token.text
        bad = client.post("/ui/person", data={"identifier": "x", "csrf": token[1]}, headers=session)
        assert bad.status_code == 422 and "Traceback" not in bad.text
        # The session planted before sign-in is worth nothing after it.
        assert client.get("/ui/person", headers=headers).status_code == 303


def test_a_read_token_cannot_act(server: Server) -> None:
    with httpx.Client(base_url=server.url) as client:
        login = client.get("/ui/login")
        csrf = re.search(r'name="csrf" value="([^"]+)"', login.text)
        assert csrf is not None
        signed = client.post(
            "/ui/login",
            data={"token": server.token("read"), "csrf": csrf[1]},
            headers={"Cookie": f"lineage_session={login.cookies['lineage_session']}"},
        )
        session = {"Cookie": f"lineage_session={signed.cookies['lineage_session']}"}
        page = client.get("/ui/person", headers=session)
        token = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert token is not None and "Open an erasure request" not in page.text
        erase = client.post(
            "/ui/erase", data={"identifier": JANE, "csrf": token[1]}, headers=session
        )
        assert erase.status_code == 403 and "scope read" in erase.text


def test_withdrawal_notices_on_the_requests_pages(server: Server, browser: Any) -> None:
    """A withdrawal that arrived by ingest, its notices opened by the service: the requests
    page names it with its data use and flags the failed notice (no identifiers kept)."""
    withdrawn = {
        "event_type": "ConsentWithdrawn",
        "occurred_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "source": "web-form",
        "subject": {"email": JANE},
        "purpose": "marketing",
    }
    with server.client("admin") as c:
        assert c.post("/v1/events", json=[withdrawn]).status_code == 200
        opened = c.post("/v1/consent/notices", json={}).json()["opened"]
    (ours,) = [r for r in opened if r["purpose"] == "marketing"]
    assert ours["tasks"], "the demo's marketing recipients"
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    expect = sync_api.expect
    expect.set_options(timeout=30_000)
    page.goto(server.url + "/ui/login")
    page.fill("#token", server.token("admin"))
    page.click("button[type=submit]")
    page.click("nav >> text=Requests")
    row = page.locator("tbody tr", has=page.locator(f"a[href='/ui/requests/{ours['request_id']}']"))
    expect(row).to_contain_text("withdrawal")
    expect(row).to_contain_text("consent to marketing")
    expect(row.locator(".tag.bad", has_text="failed")).to_be_visible()
    shot(page, "12-requests-withdrawal")
    row.locator("a").click()
    expect(page.locator("dl.facts")).to_contain_text("Consent withdrawn to")
    task = next(t for t in ours["tasks"] if t["status"] == "failed")
    shown = page.locator("tr", has_text=task["holder"]).first
    expect(shown.locator("td").nth(3)).to_contain_text(task["channel"])
    expect(shown.locator("td").nth(3)).to_contain_text("failed")
    shot(page, "13-request-withdrawal")
    context.close()
