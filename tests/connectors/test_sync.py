"""The sync engine against the fake vendor API on 127.0.0.1: paging, incremental re-runs,
rate limits, server errors, credentials and malformed payloads."""

from __future__ import annotations

import json
import time

import pytest

from lineage.demo import fakes
from lineage.ingest.errors import AuthError, PayloadError, TransientError
from tests.connectors.conftest import Harness


def _member(i: int, changed: str) -> dict[str, object]:
    email = f"member{i}@example.com"
    return {
        "id": fakes_hash(email),
        "email_address": email,
        "status": "subscribed",
        "merge_fields": {"FNAME": f"M{i}", "LNAME": "", "PHONE": "", "ADDRESS": "", "BIRTHDAY": ""},
        "ip_signup": "",
        "timestamp_signup": "",
        "ip_opt": "192.0.2.1",
        "timestamp_opt": "2024-01-01T00:00:00+00:00",
        "last_changed": changed,
        "list_id": fakes.MAILCHIMP_LIST,
    }


def fakes_hash(email: str) -> str:
    from connectors.mailchimp import subscriber_hash

    return subscriber_hash(email)


def test_pages_to_the_last_page(harness: Harness, vendors: fakes.Vendors) -> None:
    vendors.mailchimp.members = [_member(i, f"2024-02-01T00:00:{i:02d}+00:00") for i in range(7)]
    [result] = harness.run("mailchimp", config={"page_size": 3})
    assert (result.records, result.pages) == (7, 3)
    offsets = [e[2] for e in harness.fake.requests("/members")]
    assert len(offsets) == 3
    # Every vendor's paginator reaches its last page (page size 1 or 2 forces several).
    for name, over in [
        ("e-conomic", {"page_size": 1}),
        ("stripe", {"page_size": 1}),
        ("quickpay", {"page_size": 2}),
    ]:
        results = harness.run(name, config=over)
        assert all(r.records >= 1 for r in results), name
    assert [r.records for r in harness.run("e-conomic", "customers", since=None)] == [1]


def test_incremental_rerun_records_nothing_new(harness: Harness, vendors: fakes.Vendors) -> None:
    first = harness.run("mailchimp")
    assert first[0].events > 0
    before = len(harness.sink.events)
    again = harness.run("mailchimp")
    assert (again[0].events, len(harness.sink.events)) == (0, before)
    # A change after the watermark is picked up, and only it.
    vendors.mailchimp.members.append(_member(99, "2025-01-01T00:00:00+00:00"))
    third = harness.run("mailchimp")
    assert third[0].records == 1 and third[0].events == 3
    # e-conomic with >= filters: records at the watermark are skipped, not re-recorded.
    harness.run("e-conomic")
    count = len(harness.sink.events)
    rerun = harness.run("e-conomic")
    assert sum(r.events for r in rerun) == 0 and len(harness.sink.events) == count
    assert sum(r.skipped for r in rerun) == 3


def test_overlapping_window_yields_the_same_event_ids(harness: Harness) -> None:
    harness.run("mailchimp")
    ids = {e.event_id for e in harness.sink.events}
    harness.sink.batches.clear()
    from datetime import UTC, datetime

    harness.run("mailchimp", since=datetime(2020, 1, 1, tzinfo=UTC))
    assert {e.event_id for e in harness.sink.events} == ids


def test_429_waits_for_retry_after(harness: Harness) -> None:
    harness.fake.fault("/members", 429, headers={"Retry-After": "1"})
    started = time.monotonic()
    [result] = harness.run("mailchimp")
    assert result.records == 4
    hits = harness.fake.requests("/members")
    assert [h[3] for h in hits] == [429, 200]
    assert hits[1][0] - hits[0][0] >= 0.95
    assert time.monotonic() - started >= 0.95


def test_401_names_connector_and_setting(harness: Harness) -> None:
    with pytest.raises(AuthError) as err:
        harness.run("mailchimp", config={"api_key": "wrong-us19"})
    text = str(err.value)
    assert text.startswith("mailchimp: ") and "'api_key'" in text
    assert "LINEAGE_MAILCHIMP_API_KEY" in text and "wrong" not in text
    with pytest.raises(AuthError, match="'agreement_grant_token'"):
        harness.run("e-conomic", config={"agreement_grant_token": "nope"})


def test_5xx_retried_then_fails_without_moving_the_watermark(harness: Harness) -> None:
    harness.run("mailchimp", config={"page_size": 2})
    path = harness.store.path("mailchimp", "members")
    before = path.read_text()
    harness.fake.fault("/members", 503, times=2)
    [ok] = harness.run("mailchimp")  # two 503s, then an answer: retried
    assert [h[3] for h in harness.fake.requests("/members")][-3:] == [503, 503, 200]
    assert ok.events == 0
    harness.fake.fault("/members", 502, times=10)
    with pytest.raises(TransientError, match=r"HTTP 502 3 times") as err:
        harness.run("mailchimp")
    assert err.value.transient
    assert path.read_text() == before


def test_failure_mid_run_resumes_from_last_durable_page(
    harness: Harness, vendors: fakes.Vendors
) -> None:
    vendors.mailchimp.members = [_member(i, f"2024-02-01T00:00:{i:02d}+00:00") for i in range(6)]
    # Page 1 answers; page 2 fails every retry.
    calls = {"n": 0}
    original = harness.fake.dispatch

    def flaky(request):  # type: ignore[no-untyped-def]
        if "/members" in request.path and request.query.get("offset") == "2":
            calls["n"] += 1
            if calls["n"] <= 3:
                from lineage.demo.fakeapi import FakeResponse

                return FakeResponse(500, {"title": "boom"})
        return original(request)

    harness.fake.dispatch = flaky  # type: ignore[method-assign]
    with pytest.raises(TransientError):
        harness.run("mailchimp", config={"page_size": 2})
    state = harness.store.load("mailchimp", "members")
    assert state.watermark is None and state.run and state.run["resume"] == {"offset": 2}
    assert len(harness.sink.events) == 6  # page 1: two members, three events each
    [result] = harness.run("mailchimp", config={"page_size": 2})
    assert result.resumed and result.records == 4
    assert len({e.event_id for e in harness.sink.events}) == 18
    assert harness.store.load("mailchimp", "members").watermark == "2024-02-01T00:00:05Z"


def test_malformed_payload_names_the_record(harness: Harness, vendors: fakes.Vendors) -> None:
    member = _member(1, "2024-02-01T00:00:00+00:00")
    member["email_address"] = "not an address"
    vendors.mailchimp.members = [_member(0, "2024-01-01T00:00:00+00:00"), member]
    with pytest.raises(PayloadError) as err:
        harness.run("mailchimp")
    assert err.value.record == f"members record {member['id']}"
    assert "not an e-mail address" in str(err.value)
    assert harness.sink.events == []  # the page is all-or-nothing
    assert harness.store.load("mailchimp", "members").watermark is None
    del vendors.economic.customers[0]["lastUpdated"]
    with pytest.raises(PayloadError, match=r"customers record 10000: .*lastUpdated"):
        harness.run("e-conomic", "customers")
    harness.fake.fault("/quickpay/payments", 200, body=b"<html>maintenance</html>")
    with pytest.raises(PayloadError, match="not JSON"):
        harness.run("quickpay")


def test_dry_run_records_and_moves_nothing(harness: Harness) -> None:
    [result] = harness.run("mailchimp", dry_run=True)
    assert result.events == 12 and harness.sink.events == []
    assert not harness.store.path("mailchimp", "members").exists()


def test_zendesk_sync_acknowledges_only_durable_pages(
    harness: Harness, vendors: fakes.Vendors
) -> None:
    def broken(events: object) -> None:
        raise OSError("disk full")

    connector = harness.connector("zendesk-sell", device_uuid="dev-1")
    from lineage.ingest.runner import run
    from tests.connectors.conftest import PSEUDO

    with pytest.raises(OSError):
        run(connector, PSEUDO, broken, harness.store)
    assert vendors.zendesk.acked.get("dev-1", set()) == set()
    [ok] = run(connector, PSEUDO, harness.sink, harness.store)
    assert ok.records == 2 and vendors.zendesk.acked["dev-1"]
    [again] = run(connector, PSEUDO, harness.sink, harness.store)
    assert again.records == 0
    vendors.zendesk.change("contact", vendors.zendesk.contacts[0], "deleted")
    [gone] = run(connector, PSEUDO, harness.sink, harness.store)
    assert [e.event_type for e in harness.sink.events[-1:]] == ["DataErased"]
    assert gone.records == 1


def test_throttled_checkpoint_resumes_from_an_earlier_page_without_duplicates(
    harness: Harness, vendors: fakes.Vendors
) -> None:
    vendors.mailchimp.members = [_member(i, f"2024-02-01T00:00:{i:02d}+00:00") for i in range(6)]
    calls = {"n": 0}
    original = harness.fake.dispatch

    def flaky(request):  # type: ignore[no-untyped-def]
        if "/members" in request.path and request.query.get("offset") == "4":
            calls["n"] += 1
            if calls["n"] <= 3:
                from lineage.demo.fakeapi import FakeResponse

                return FakeResponse(500, {"title": "boom"})
        return original(request)

    harness.fake.dispatch = flaky  # type: ignore[method-assign]
    # Only the first page gets a checkpoint within the hour: pages 1 and 2 are durable, the
    # checkpoint still points after page 1.
    with pytest.raises(TransientError):
        harness.run("mailchimp", config={"page_size": 2}, checkpoint_seconds=3600)
    state = harness.store.load("mailchimp", "members")
    assert state.watermark is None and state.run and state.run["resume"] == {"offset": 2}
    assert len(harness.sink.events) == 12
    [result] = harness.run("mailchimp", config={"page_size": 2}, checkpoint_seconds=3600)
    assert result.resumed and result.records == 4
    # Page 2 was appended twice, with the same ids: the projector keeps one of each.
    assert len(harness.sink.events) == 24
    assert len({e.event_id for e in harness.sink.events}) == 18
    assert harness.store.load("mailchimp", "members").watermark == "2024-02-01T00:00:05Z"


def test_state_keeps_no_vendor_id_that_is_or_hashes_an_identifier(
    harness: Harness, vendors: fakes.Vendors
) -> None:
    for name in ("mailchimp", "e-conomic", "stripe", "quickpay", "files"):
        harness.run(name)
    state = b"".join(p.read_bytes() for p in sorted(harness.store.root.rglob("*.json")))
    keys = [m["id"] for m in vendors.mailchimp.members]  # MD5 of the e-mail
    keys += [str(c["customerNumber"]) for c in vendors.economic.customers]
    keys += [c["id"] for c in vendors.stripe.customers]
    keys += [str(p["id"]) for p in vendors.quickpay.payments]
    for key in keys:
        assert f'"{key}'.encode() not in state, key
    assert b"@" not in state
    # The keyed boundary still does its work: a re-run records nothing new.
    before = len(harness.sink.events)
    assert sum(r.events for r in harness.run("mailchimp")) == 0
    assert len(harness.sink.events) == before


def test_state_written_with_raw_keys_is_read_as_keyed(
    harness: Harness, vendors: fakes.Vendors
) -> None:
    harness.run("mailchimp")
    before = len(harness.sink.events)
    # A state file from before keys were keyed: the raw member ids at the watermark.
    path = harness.store.path("mailchimp", "members")
    data = json.loads(path.read_text())
    newest = max(vendors.mailchimp.members, key=lambda m: m["last_changed"])
    data["boundary"] = [newest["id"]]
    path.write_text(json.dumps(data))
    [again] = harness.run("mailchimp")
    assert again.events == 0 and len(harness.sink.events) == before
    assert newest["id"] not in path.read_text()
