"""``lineage export openlineage``: aggregated flows as OpenLineage run events, checked against
the published JSON schema (vendored in tests/data/openlineage), a golden export of the webshop
example, and delivery to a real HTTP receiver on 127.0.0.1."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from lineage.resources import data_file
from tests.conftest import Lineage, collected, shared, transferred

ROOT = Path(__file__).resolve().parent
EXAMPLES = ROOT.parent / "examples"
SPEC = ROOT / "data" / "openlineage"
GOLDEN = ROOT / "data" / "openlineage" / "webshop_export.jsonl"
AS_OF = "2025-09-01T00:00:00Z"
CATALOG = str(EXAMPLES / "webshop" / "lineage.yaml")


def _registry() -> Registry:
    schemas = [*SPEC.glob("*.json"), *data_file("openlineage").glob("*.json")]
    resources = [Resource.from_contents(json.loads(p.read_text())) for p in schemas]
    return Registry().with_resources((r.id(), r) for r in resources if r.id())


REGISTRY = _registry()
CORE = "https://openlineage.io/spec/2-0-2/OpenLineage.json"


def validate(event: dict[str, Any]) -> None:
    """The event against the spec's RunEvent, and every facet against its own schema (its
    ``_schemaURL``, which must be one of the vendored ones)."""
    run_event = {"$ref": f"{CORE}#/$defs/RunEvent"}
    Draft202012Validator(run_event, registry=REGISTRY).validate(event)
    holders = [event["run"], event["job"], *event["inputs"], *event["outputs"]]
    for holder in holders:
        for key, facet in holder.get("facets", {}).items():
            url = facet["_schemaURL"]
            document = url.split("#")[0]
            assert REGISTRY.get(document) is not None, f"no schema for facet {key}: {url}"
            Draft202012Validator({"$ref": url}, registry=REGISTRY).validate(facet)
            if key.startswith("lineage_"):
                # The spec's naming rule: a project prefix, then the facet name in camelCase.
                name = url.rsplit("/", 1)[-1]
                assert name.startswith("Lineage") and name.endswith("Facet")


@pytest.fixture(scope="module")
def webshop(tmp_path_factory: pytest.TempPathFactory) -> Lineage:
    lineage = Lineage(tmp_path_factory.mktemp("ol") / "home")
    lineage.ok("init")
    events = str(EXAMPLES / "webshop" / "events.jsonl")
    lineage.ok("emit", "--catalog", CATALOG, "--file", events)
    return lineage


def export(lineage: Lineage, *args: str) -> list[dict[str, Any]]:
    result = lineage.ok("export", "openlineage", "--as-of", AS_OF, *args)
    return [json.loads(line) for line in result.stdout.splitlines()]


def datasets(events: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {d["name"]: d for e in events for d in (*e["inputs"], *e["outputs"]) if d["facets"]}


def tags(dataset: dict[str, Any], key: str) -> list[str]:
    return [t["value"] for t in dataset["facets"]["tags"]["tags"] if t["key"] == key]


def test_every_event_validates_against_the_spec(webshop: Lineage) -> None:
    for args in ((), ("--catalog", CATALOG), ("--since", "2023-01-01T00:00:00Z")):
        events = export(webshop, *args)
        assert events
        for event in events:
            validate(event)


def test_a_broken_event_fails_the_schema_check() -> None:
    """The validator is real: a facet without its producer, or a bad run id, is refused."""
    from jsonschema import ValidationError

    event = json.loads(GOLDEN.read_text().splitlines()[0])
    event["run"]["runId"] = "not-a-uuid"
    with pytest.raises(ValidationError):
        Draft202012Validator(
            {"$ref": f"{CORE}#/$defs/RunEvent"}, registry=REGISTRY,
            format_checker=Draft202012Validator.FORMAT_CHECKER,
        ).validate(event)  # fmt: skip
    event = json.loads(GOLDEN.read_text().splitlines()[0])
    del event["outputs"][0]["facets"]["tags"]["_producer"]
    with pytest.raises(ValidationError):
        validate(event)


def test_golden_webshop_export(webshop: Lineage, tmp_path: Path) -> None:
    out = tmp_path / "flows.jsonl"
    webshop.ok("export", "openlineage", "--as-of", AS_OF, "--catalog", CATALOG, "-o", str(out))
    assert out.stat().st_mode & 0o777 == 0o600
    if os.environ.get("UPDATE_GOLDEN"):
        GOLDEN.write_text(out.read_text())
    assert out.read_text() == GOLDEN.read_text()


def test_jobs_are_purposes_and_tags_say_what_the_rulebook_says(webshop: Lineage) -> None:
    events = export(webshop, "--catalog", CATALOG)
    jobs = {e["job"]["name"]: e for e in events}
    assert {"newsletter", "payment", "bookkeeping", "contact-form"} <= set(jobs)
    found = datasets(events)
    desk = found["desk-support-inc/user.contact"]
    assert tags(desk, "transfer_tool") == ["privacy_shield"]
    assert tags(desk, "transfer_valid") == ["false"]  # invalid since 2020-07-16
    mailchimp = found["mailchimp/user.contact"]
    assert "dpf" in tags(mailchimp, "transfer_tool") and tags(mailchimp, "country") == ["US"]
    assert "consent" in tags(mailchimp, "legal_basis")
    facet = mailchimp["facets"]["lineage_personalData"]
    assert facet["insideEea"] is False and facet["declared"] is True
    assert facet["categories"] == tags(mailchimp, "data_category")
    newsletter = jobs["newsletter"]
    assert newsletter["job"]["facets"]["lineage_purpose"]["legalBasis"] == "consent"
    assert {o["name"] for o in newsletter["outputs"]} >= {"mailchimp/user.contact"}
    # The audit reaches the same verdict on the same transfers.
    audit = json.loads(
        webshop("audit", "--catalog", CATALOG, "--as-of", AS_OF, "--format", "json").stdout
    )
    invalid = {f["holder"] for f in audit["findings"] if f["rule"] == "transfer-invalid"}
    exported = {n.split("/")[0] for n, d in found.items() if tags(d, "transfer_valid") == ["false"]}
    assert exported == invalid


def test_special_categories_counts_and_no_subject_references(lineage: Lineage) -> None:
    people = [f"p{i}@example.com" for i in range(3)]
    health = {"categories": ["user.health_and_medical", "user.name"],
              "purpose": "essential.service", "legal_basis": "contract"}  # fmt: skip
    events = [collected(p, **health) for p in people]
    events += [shared(p, categories=["user.health_and_medical"]) for p in people[:2]]
    events += [transferred(people[0])]
    assert lineage.emit(events).exit_code == 0
    out = lineage.ok("export", "openlineage", "--as-of", AS_OF).stdout
    found = datasets([json.loads(line) for line in out.splitlines()])
    clinic = found["e-conomic/user.health_and_medical"]
    assert tags(clinic, "special_category") == ["art9"]
    assert clinic["facets"]["lineage_personalData"]["subjects"] == 2
    assert (
        found["webshop-db/user.health_and_medical"]["facets"]["lineage_personalData"]["subjects"]
        == 3
    )
    refs = {lineage.json("who-has", p)["subject"] for p in people}
    assert all(ref not in out for ref in refs) and not any(p in out for p in people)
    assert "mailchimp/user.contact" in found


def test_since_exports_only_later_flows(webshop: Lineage) -> None:
    everything = export(webshop)
    later = export(webshop, "--since", "2024-01-01T00:00:00Z")
    assert later and later != everything
    for e in later:
        assert e["run"]["facets"]["nominalTime"]["nominalStartTime"] == "2024-01-01T00:00:00Z"
        for flow in e["run"]["facets"]["lineage_flows"]["flows"]:
            assert flow["firstSeen"] > "2024-01-01T00:00:00Z"


class _Receiver(BaseHTTPRequestHandler):
    """A Marquez-compatible endpoint: records what it is sent, answers with a set status."""

    received: list[tuple[str, dict[str, Any]]]
    status = 201

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((self.path, json.loads(body)))
        self.send_response(self.status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[tuple[str, type[_Receiver]]]:
    handler = type("Handler", (_Receiver,), {"received": [], "status": 201})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", handler
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_post_to_a_lineage_endpoint(webshop: Lineage, receiver: Any) -> None:
    url, handler = receiver
    result = webshop.ok("export", "openlineage", "--as-of", AS_OF, "--url", url)
    expected = export(webshop)
    assert [path for path, _ in handler.received] == ["/api/v1/lineage"] * len(expected)
    assert [body for _, body in handler.received] == expected
    assert f"posted {len(expected)} run events" in result.stderr


@pytest.mark.parametrize("status", [400, 503])
def test_a_refusing_endpoint_is_one_line_and_exit_3(
    webshop: Lineage, receiver: Any, status: int
) -> None:
    url, handler = receiver
    handler.status = status
    result = webshop("export", "openlineage", "--as-of", AS_OF, "--url", url)
    assert result.exit_code == 3 and result.stderr.count("\n") == 1
    assert f"HTTP {status}" in result.stderr and "after 0 of" in result.stderr
    # A busy server (503) is asked again with backoff; a refusal (400) is final.
    assert len(handler.received) == (1 if status == 400 else 4)


def test_an_unreachable_endpoint(webshop: Lineage) -> None:
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = webshop("export", "openlineage", "--url", f"http://127.0.0.1:{port}")
    assert result.exit_code == 3 and "cannot connect" in result.stderr
    assert result.stderr.count("\n") == 1


def test_bad_options_write_nothing(webshop: Lineage, tmp_path: Path) -> None:
    out = tmp_path / "x.jsonl"
    both = webshop("export", "openlineage", "-o", str(out), "--url", "http://127.0.0.1:9")
    assert both.exit_code == 2 and not out.exists()
    when = webshop("export", "openlineage", "--since", "yesterday", "-o", str(out))
    assert when.exit_code == 2 and when.stderr.count("\n") == 1 and not out.exists()
    scheme = webshop("export", "openlineage", "--url", "ftp://127.0.0.1/")
    assert scheme.exit_code == 2
