"""Benchmark: ``lineage ropa`` and ``lineage audit`` over 1,000,000 events and 50 purposes,
each against one full scan of the projection's main table (``events``) in the same run.

    .venv/bin/python bench/ropa_audit.py [--events 1000000] [--purposes 50] [--repeat 3]

The projection is built the way production builds it: encoded events (lineage.codec) are
appended to the embedded file log (lineage.log.file) and projected by the Projector, so the
table, its types and its order are exactly what the commands meet. A generated catalog
declares the purposes (custom data uses), holders in and outside the EEA (some with invalid
transfer tools), retention rules of every kind and consent-based purposes, so every audit rule
has work to do.

Timed (best of --repeat, warm): the scan, ``ropa`` (records built from catalog + SQL evidence,
then rendered as JSON and as XLSX) and ``audit`` (all rules): cold (the first audit after the
rebuild folds every subject, in worker processes when there are several CPUs, and keeps the
per-component summaries; then once more with the fold in this process only), warm (no new
events), and
once after 1% new events (half for old subjects, half new; projected first, untimed here).
Unless --no-verify, that audit is checked against one that folds every subject now. Then each
command once as a real process (start-up, catalog loading and the up-to-date check included).
Also printed: the CPU time of the scan and of the warm and after-new-events audits (this
process, DuckDB's threads included), which compares two versions of the code under a load
that makes wall times wait for a core. Results go to bench/results/ropa_audit-<time>.json.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lineage.log.base import LogRecord  # noqa: E402

CATEGORIES = [
    "user.name",
    "user.contact.email",
    "user.contact.phone_number",
    "user.contact.address.street",
    "user.contact.address.city",
    "user.financial.bank_account",
    "user.device.ip_address",
    "user.device.cookie_id",
    "user.behavior.purchase_history",
    "user.account.username",
    "user.location.imprecise",
    "user.demographic.age_range",
]
# (name, role, country, transfer tool, DPF-certified)
RECIPIENTS = [
    ("proc-dk-0", "processor", "DK", None, False),
    ("proc-dk-1", "processor", "DK", None, False),
    ("proc-de-0", "processor", "DE", None, False),
    ("proc-ie-0", "processor", "IE", None, False),
    ("proc-us-dpf", "processor", "US", "dpf", True),
    ("proc-us-scc", "processor", "US", "scc", False),
    ("proc-us-ps", "processor", "US", "privacy_shield", False),
    ("proc-in-scc", "processor", "IN", "scc", False),
    ("ctrl-dk-0", "controller", "DK", None, False),
    ("ctrl-us-0", "controller", "US", "dpf", True),
    ("authority-dk", "public_authority", "DK", None, False),
]
SUBS = [("sub-no-0", "NO"), ("sub-us-0", "US")]
SYSTEMS = ["sys-0", "sys-1", "sys-2", "sys-3", "sys-4"]
BASES = ["contract", "consent", "legitimate_interests", "legal_obligation", "consent"]
RULES = [
    "P2Y from collection",
    "P3Y from last_activity",
    "P5Y from end_of_financial_year",
    "P30D from consent_withdrawal",
    "until_consent_withdrawn",
    "P1Y from contract_end",
]
START = datetime(2018, 1, 1, tzinfo=UTC)
SPAN_S = 8 * 365 * 86400


def make_catalog(purposes: int) -> str:
    lines = [
        "version: 1",
        "controller: {name: Bench ApS, country: DK, contact: privacy@bench.example}",
        "dpo: {name: DPO, contact: dpo@bench.example}",
        "security_measures: [Encryption at rest]",
        "taxonomy:",
        "  uses:",
        *(f"    - {{key: bench.use_{i:02d}}}" for i in range(purposes)),
        "holders:",
        *(f"  {s}: {{role: own, country: DK}}" for s in SYSTEMS),
    ]
    for name, role, country, tool, certified in RECIPIENTS:
        extra = ""
        if role == "processor":
            extra += ", dpa_signed: 2018-01-01"
            if name == "proc-dk-0":
                extra += ", sub_processors: [sub-no-0, sub-us-0]"
        if tool:
            extra += f", transfer: {{mechanism: {tool}}}"
        if certified:
            extra += ", dpf_certified: true"
        lines.append(f"  {name}: {{role: {role}, country: {country}{extra}}}")
    for name, country in SUBS:
        tool = ", transfer: {mechanism: scc}" if country == "US" else ""
        lines.append(
            f"  {name}: {{role: sub_processor, country: {country}, dpa_signed: 2018-01-01{tool}}}"
        )
    lines.append("purposes:")
    for i in range(purposes):
        basis = BASES[i % len(BASES)]
        rule = RULES[i % len(RULES)]
        if basis != "consent" and "consent" in rule:
            rule = "P4Y from last_activity"
        recipients = [RECIPIENTS[(i + k) % len(RECIPIENTS)][0] for k in range(3)]
        cats = [CATEGORIES[(i + k) % len(CATEGORIES)] for k in range(4)]
        interest = ", legitimate_interest: Running the business" if "legit" in basis else ""
        lines += [
            f"  p{i:02d}:",
            f"    name: Purpose {i}",
            f"    data_use: bench.use_{i:02d}",
            f"    legal_basis: {basis}{interest.replace(', ', chr(10) + '    ', 1)}",
            "    data_subjects: [customer]",
            f"    categories: [{', '.join(cats)}]",
            f"    retention: {rule}",
            f"    systems: [{SYSTEMS[i % len(SYSTEMS)]}]",
            f"    recipients: [{', '.join(recipients)}]",
        ]
    return "\n".join(lines) + "\n"


def records(
    n: int, purposes: int, seed: int = 7, *, first_subject: int = 0, first_id: int = 0
) -> Any:
    """n encoded events: per subject a collection, shares and transfers to the purpose's
    recipients, consent events for consent purposes, and some erasures. Subjects are
    numbered from ``first_subject`` (an earlier run's numbers: new events of old subjects),
    event ids from ``first_id``."""
    from lineage.codec import default_codec

    codec = default_codec()
    rnd = random.Random(seed)
    encode = codec.encode_record
    recorded = datetime(2026, 1, 1, tzinfo=UTC)
    count = 0
    subject = first_subject
    while count < n:
        ref = hashlib.sha256(f"subject-{subject}".encode()).hexdigest()
        p = subject % purposes
        use = f"bench.use_{p:02d}"
        basis = BASES[p % len(BASES)]
        system = SYSTEMS[p % len(SYSTEMS)]
        t = START + timedelta(seconds=rnd.randrange(SPAN_S))
        cats = [CATEGORIES[(p + k) % len(CATEGORIES)] for k in range(rnd.randint(1, 4))]
        plan: list[tuple[str, dict[str, Any]]] = [
            (
                "DataCollected",
                {"categories": cats, "system": system, "purpose": use, "legal_basis": basis,
                 "data_subject": "customer", "origin": "data_subject", "retention": None},
            )
        ]  # fmt: skip
        if basis == "consent":
            plan.append(("ConsentGiven", {"purpose": use, "evidence": None}))
        shares = [(p + k) % len(RECIPIENTS) for k in range(rnd.randint(1, 3))]
        if rnd.random() < 0.02:  # a recipient the purpose does not declare
            shares.append((p + 3) % len(RECIPIENTS))
        for r in shares:
            name, role, country, tool, _ = RECIPIENTS[r]
            body = {"categories": cats[:2], "from_holder": system, "recipient": name,
                    "recipient_role": role, "purpose": use, "legal_basis": basis,
                    "retention": None}  # fmt: skip
            if tool:
                mechanism = tool if rnd.random() < 0.9 else "scc_2010"
                body.update(destination_country=country, mechanism=mechanism, mechanism_ref=None)
                plan.append(("DataTransferred", body))
            else:
                plan.append(("DataShared", {**body, "recipient_country": country}))
        if basis == "consent" and rnd.random() < 0.2:
            plan.append(("ConsentWithdrawn", {"purpose": use, "evidence": None}))
            if rnd.random() < 0.1:  # a connector that ignores the withdrawal
                plan.append(plan[-2] if plan[-2][0] != "ConsentGiven" else plan[0])
        if rnd.random() < 0.1:
            plan.append(("DataErased", {"holder": system, "categories": []}))
        for event_type, body in plan:
            if count >= n:
                break
            t += timedelta(days=rnd.randint(0, 90))
            count += 1
            envelope = {"event_id": str(uuid.UUID(int=first_id + count)), "event_type": event_type,
                        "occurred_at": t, "recorded_at": recorded, "source": "bench",
                        "subject_ref": ref, "schema_version": 1}  # fmt: skip
            yield LogRecord(encode(event_type, {"envelope": envelope, **body}), ref.encode())
        subject += 1


# The least CPU time (this process, DuckDB's threads included) of the steps named: under a
# load that makes wall times wait for a core, what compares two versions of the code.
CPU: dict[str, float] = {}


def best(fn: Any, repeat: int, name: str | None = None) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(repeat):
        cpu = time.process_time()
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
        if name is not None:
            CPU[name] = min(CPU.get(name, float("inf")), time.process_time() - cpu)
    return min(times), result


# Reads every column ropa and audit read, from every row: one full scan of ``events``.
SCAN = """
SELECT count(*), max(event_type), max(occurred_at), max(subject_ref), max(holder),
       max(from_holder), max(purpose), max(legal_basis), max(country), max(mechanism),
       max(retention), max(len(categories))
FROM events
"""


def _digest(findings: list[Any]) -> str:
    # Sorted: findings that tie on (severity, rule, holder, purpose) may come in any order.
    lines = sorted(json.dumps(f.to_json(), sort_keys=True, default=str) for f in findings)
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()[:16]


def run(
    n: int,
    purposes: int,
    repeat: int,
    workdir: Path,
    verify: bool = True,
    as_of: datetime | None = None,
) -> dict[str, Any]:
    from lineage.config import resolve
    from lineage.services.app import App
    from lineage.services.audit import audit
    from lineage.services.ropa import build
    from lineage.services.ropa_export import render
    from lineage.timeutil import now

    home = workdir / "home"
    os.environ.pop("LINEAGE_PSEUDONYM_KEY", None)
    app = App(resolve(home))
    app.init()
    (home / "lineage.yaml").write_text(make_catalog(purposes))
    catalog = app.catalog()
    assert catalog is not None and len(catalog.purposes) == purposes

    started = time.perf_counter()
    appended = app.log.append(records(n, purposes))
    encode_append = time.perf_counter() - started
    started = time.perf_counter()
    projected = app.rebuild()
    projection = time.perf_counter() - started
    assert projected.applied == n == appended.count, (projected, appended.count)
    app.close()

    as_of = as_of or now()
    with app.store() as store:
        con = store.con
        scan_s, scan_row = best(lambda: con.execute(SCAN).fetchall(), repeat, "scan")
        assert scan_row[0][0] == n

        def ropa() -> Any:
            records_ = build(catalog, store, as_of)
            return records_, render(records_, "json", "en"), render(records_, "xlsx", "en")

        ropa_s, (recs, ropa_json, _) = best(ropa, repeat)
        build_s, _ = best(lambda: build(catalog, store, as_of), repeat)
        # The first audit after the rebuild folds every subject and keeps the summaries.
        cold_s, _ = best(lambda: audit(catalog, store, as_of), 1)
        audit_s, findings = best(lambda: audit(catalog, store, as_of), repeat, "audit")
        # The same cold audit with the fold in this process only (no worker processes).
        from lineage.services import company as company_module

        threshold = company_module.PARALLEL_EVENTS
        company_module.PARALLEL_EVENTS = 2**62
        store.set_meta("summary_fingerprint", "-")
        try:
            cold_here_s, _ = best(lambda: audit(catalog, store, as_of), 1)
        finally:
            company_module.PARALLEL_EVENTS = threshold

    # 1% new events, half of them for subjects already there, half for new subjects;
    # projected as a command projects them (catch-up), then one audit folds what changed.
    extra = max(2, n // 100)
    app.log.append(records(extra // 2, purposes, seed=8, first_id=n))
    app.log.append(
        records(extra - extra // 2, purposes, seed=9, first_subject=10**8, first_id=n + extra)
    )
    with app.store() as store:
        started = time.perf_counter()
        caught = app.catch_up(store)
        catch_up_s = time.perf_counter() - started
        assert caught is not None and caught.applied == extra, caught
        after_s, after = best(lambda: audit(catalog, store, as_of), 1, "audit_after_new")
        # The kept summaries against every subject folded now: the same findings.
        verify_s = None
        if verify:
            verify_s, scratch = best(lambda: audit(catalog, store, as_of, keep=False), 1)
            assert _digest(after) == _digest(scratch), "kept summaries disagree with a fold"
    # Output digests let an optimisation show it changed nothing (same --events and seed).
    doc = json.loads(ropa_json)
    doc["header"].pop("as_of", None)
    doc["header"].pop("catalog", None)
    ropa_digest = hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:16]
    audit_digest = _digest(findings)

    cli: dict[str, float] = {}
    env = {k: v for k, v in os.environ.items() if not k.startswith("LINEAGE_")}
    for name, args in (
        ("ropa_cli", ["ropa", "--format", "xlsx", "-o", str(workdir / "ropa.xlsx")]),
        ("audit_cli", ["audit", "--format", "json"]),
    ):
        started = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-m", "lineage.cli.main", "--home", str(home), *args],
            capture_output=True,
            env=env,
            check=False,
        )
        cli[name] = time.perf_counter() - started
        assert proc.returncode in (0, 1), proc.stderr.decode()

    rules: dict[str, int] = {}
    for f in findings:
        rules[f.rule] = rules.get(f.rule, 0) + 1
    return {
        "events": n,
        "purposes": purposes,
        "repeat": repeat,
        "encode_append_s": encode_append,
        "projection_s": projection,
        "scan_s": scan_s,
        "ropa_s": ropa_s,
        "ropa_build_s": build_s,
        "audit_cold_s": cold_s,
        "audit_cold_here_s": cold_here_s,
        "audit_s": audit_s,
        "new_events": extra,
        "catch_up_s": catch_up_s,
        "audit_after_new_s": after_s,
        "verify_fold_s": verify_s,
        "ropa_ratio": ropa_s / scan_s,
        "ropa_build_ratio": build_s / scan_s,
        "audit_cold_ratio": cold_s / scan_s,
        "audit_cold_here_ratio": cold_here_s / scan_s,
        "audit_ratio": audit_s / scan_s,
        "audit_after_new_ratio": after_s / scan_s,
        "cpu_s": dict(CPU),
        "load_average": os.getloadavg(),
        **cli,
        "ropa_cli_ratio": cli["ropa_cli"] / scan_s,
        "audit_cli_ratio": cli["audit_cli"] / scan_s,
        "controller_records": len(recs.controller_records),
        "findings": rules,
        "ropa_digest": ropa_digest,
        "audit_digest": audit_digest,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--purposes", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", metavar="DIR", help="Keep the generated home here.")
    parser.add_argument(
        "--as-of",
        metavar="TIME",
        help="Judge as of this time (default now): the audit digest depends on it.",
    )
    parser.add_argument(
        "--no-verify",
        action="store_true",
        help="Skip checking the kept summaries' audit against a fold of every subject.",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="lineage-bench-") as tmp:
        workdir = Path(args.keep) if args.keep else Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        from lineage.timeutil import parse_time

        as_of = parse_time(args.as_of, assume_utc=True, where="--as-of") if args.as_of else None
        r = run(args.events, args.purposes, args.repeat, workdir, not args.no_verify, as_of)
    rows = [
        ("full scan of events", r["scan_s"], 1.0),
        ("ropa (build + json + xlsx)", r["ropa_s"], r["ropa_ratio"]),
        ("  of which build (SQL + catalog)", r["ropa_build_s"], r["ropa_build_ratio"]),
        ("audit, cold (first after rebuild)", r["audit_cold_s"], r["audit_cold_ratio"]),
        ("  the same, folded in one process", r["audit_cold_here_s"], r["audit_cold_here_ratio"]),
        ("audit, warm (no new events)", r["audit_s"], r["audit_ratio"]),
        (
            f"audit after {r['new_events']:,} new events (1%)",
            r["audit_after_new_s"],
            r["audit_after_new_ratio"],
        ),
        ("lineage ropa --format xlsx (process)", r["ropa_cli"], r["ropa_cli_ratio"]),
        ("lineage audit --format json (process)", r["audit_cli"], r["audit_cli_ratio"]),
    ]
    print(
        f"{r['events']:,} events, {r['purposes']} purposes "
        f"(generated + appended in {r['encode_append_s']:.1f} s, projected in "
        f"{r['projection_s']:.1f} s)"
    )
    print(f"{'':40} {'seconds':>9} {'x scan':>8}")
    for label, seconds, ratio in rows:
        print(f"{label:40} {seconds:9.3f} {ratio:8.1f}")
    print("findings: " + ", ".join(f"{k} {v}" for k, v in sorted(r["findings"].items())))
    print(f"digests: ropa {r['ropa_digest']}  audit {r['audit_digest']}")
    if r["verify_fold_s"] is not None:
        print(
            f"after the new events: kept summaries' audit = a fold of every subject "
            f"({r['verify_fold_s']:.1f} s); catch-up {r['catch_up_s']:.2f} s"
        )
    cpu = r["cpu_s"]
    print(
        f"CPU seconds (DuckDB's threads included): scan {cpu['scan']:.3f}, audit warm "
        f"{cpu['audit']:.3f}, after the new events {cpu['audit_after_new']:.3f}"
    )
    print("load average: " + " ".join(f"{x:.2f}" for x in r["load_average"]))
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"ropa_audit-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    path.write_text(json.dumps(r, indent=2) + "\n")
    print(f"wrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
