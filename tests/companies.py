"""Generated companies: a catalog and the events of many subjects, from a seed.

The catalogs use the fideslang hierarchy on both sides (purposes declared for a parent data
use receive events under its descendants; categories declared as a group receive its
members), every retention start, consent and legal-obligation purposes, special categories,
processors inside and outside the EEA with tools that were valid, never valid, or
invalidated. The events exercise every rule: several categories at one holder under purposes
with different retention, partial erasures by a parent key, consent withdrawn (and flows
after it), identity links, transfers across the tools' dates, rights requests with
extensions, notified controllers, refusals and failures.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

# Data uses with the descendants events may use instead.
USES: dict[str, list[str]] = {
    "essential.service": [
        "essential.service",
        "essential.service.operations",
        "essential.service.operations.support",
        "essential.service.payment_processing",
    ],
    "essential.service.operations": [
        "essential.service.operations",
        "essential.service.operations.support",
        "essential.service.operations.improve",
    ],
    "marketing.communications": [
        "marketing.communications",
        "marketing.communications.email",
        "marketing.communications.sms",
    ],
    "marketing.communications.email": ["marketing.communications.email"],
    "essential.legal_obligation": ["essential.legal_obligation"],
    "employment.recruitment": ["employment.recruitment"],
    "analytics.reporting": ["analytics.reporting", "analytics.reporting.campaign_insights"],
}
# Category keys a purpose may declare, with the keys events may carry under each.
CATEGORIES: dict[str, list[str]] = {
    "user.contact": ["user.contact.email", "user.contact.address", "user.contact.phone_number"],
    "user.contact.email": ["user.contact.email"],
    "user.name": ["user.name", "user.name.first", "user.name.last"],
    "user.financial": ["user.financial.bank_account", "user.financial.credit_card"],
    "user.health_and_medical": ["user.health_and_medical", "user.health_and_medical.record_id"],
    "user.demographic.religious_belief": ["user.demographic.religious_belief"],
    "user.account.username": ["user.account.username"],
}
SPECIAL = ("user.health_and_medical", "user.demographic.religious_belief")
# Keys no generated purpose declares: flows carrying them are undeclared categories.
STRAY = ("user.demographic.gender", "user.device.ip_address")

EEA_COUNTRIES = ("DK", "NL", "ES", "DE", "SE", "NO", "FR", "IE")
START = datetime(2016, 1, 1, tzinfo=UTC)
END = datetime(2026, 6, 1, tzinfo=UTC)
AS_OF_TIMES = ("2019-06-01T00:00:00Z", "2021-01-01T00:00:00Z", "2026-11-01T00:00:00Z")


@dataclass
class Company:
    seed: int
    catalog: dict[str, Any]
    events: list[dict[str, Any]] = field(default_factory=list)
    emails: list[str] = field(default_factory=list)  # one per subject (its first identifier)
    # email -> the other identifiers linked to it
    linked: dict[str, list[str]] = field(default_factory=dict)


def _holders(rng: random.Random) -> dict[str, dict[str, Any]]:
    holders: dict[str, dict[str, Any]] = {
        "crm": {"role": "own", "country": rng.choice(EEA_COUNTRIES)},
        "shop": {"role": "own", "country": "DK"},
        "books": {
            "role": "processor",
            "country": "DK",
            "dpa_signed": "2018-01-01",
            "sub_processors": ["hosting"],
        },
        "hosting": {
            "role": "sub_processor",
            "country": "US",
            "dpa_signed": "2018-01-01",
            "transfer": {"mechanism": rng.choice(["scc", "scc_2010", "dpf"])},
            "dpf_certified": rng.random() < 0.5,
        },
        "mailer": {
            "role": "processor",
            "country": "US",
            "dpa_signed": "2018-01-01",
            "transfer": {"mechanism": rng.choice(["dpf", "scc", "privacy_shield"])},
            "dpf_certified": rng.random() < 0.7,
        },
        "desk": {
            "role": "processor",
            "country": "US",
            "transfer": {"mechanism": "privacy_shield"},
        },
        "partner": {"role": "controller", "country": "SE"},
        "clinic": {"role": "processor", "country": "NL", "dpa_signed": "2019-01-01"},
    }
    if rng.random() < 0.5:
        del holders["desk"]["transfer"]  # a US processor with no tool at all
    return holders


def _rule(rng: random.Random, basis: str) -> str:
    if basis == "consent":
        return rng.choice(
            ["until_consent_withdrawn", f"P{rng.randint(1, 6)}M from consent_withdrawal"]
        )
    if basis == "legal_obligation":
        return f"P{rng.choice([5, 6])}Y from end_of_financial_year"
    return rng.choice(
        [
            f"P{rng.randint(6, 30)}M from collection",
            f"P{rng.randint(1, 4)}Y from last_activity",
            f"P{rng.randint(2, 5)}Y from contract_end",
            f"P{rng.randint(20, 60)}W",
        ]
    )


def _purposes(rng: random.Random, holders: dict[str, Any]) -> dict[str, dict[str, Any]]:
    specs = [
        ("customer", "essential.service", "contract", ["user.name", "user.contact"], "shop"),
        (
            "support",
            "essential.service.operations",
            "legitimate_interests",
            ["user.name", "user.contact.email"],
            "crm",
        ),
        (
            "news",
            rng.choice(["marketing.communications", "marketing.communications.email"]),
            "consent",
            ["user.contact.email", "user.name"],
            "crm",
        ),
        (
            "books",
            "essential.legal_obligation",
            "legal_obligation",
            ["user.name", "user.contact", "user.financial"],
            "shop",
        ),
        (
            "health",
            "essential.service.operations",
            rng.choice(["contract", "consent"]),
            ["user.health_and_medical", "user.demographic.religious_belief"],
            "crm",
        ),
        (
            "hiring",
            "employment.recruitment",
            "legitimate_interests",
            ["user.name", "user.contact.email", "user.account.username"],
            "crm",
        ),
        ("stats", "analytics.reporting", "consent", ["user.contact.email"], "shop"),
    ]
    recipients = {
        "customer": ["books", "partner"],
        "support": ["desk"],
        "news": ["mailer"],
        "books": ["books"],
        "health": ["clinic"],
        "hiring": [],
        "stats": ["mailer"],
    }
    out: dict[str, dict[str, Any]] = {}
    for pid, use, basis, cats, system in specs:
        p: dict[str, Any] = {
            "name": pid.title(),
            "data_use": use,
            "legal_basis": basis,
            "data_subjects": ["customer"],
            "categories": cats,
            "retention": _rule(rng, basis),
            "systems": [system],
            "recipients": [r for r in recipients[pid] if r in holders],
        }
        if basis == "legitimate_interests":
            p["legitimate_interest"] = "stated"
        if pid == "health" and rng.random() < 0.6:
            p["art9_condition"] = "explicit_consent"
        us = [r for r in p["recipients"] if holders[r]["country"] == "US"]
        if us:
            p["transfers"] = [{"recipient": r} for r in us]
        out[pid] = p
    return out


def generate(seed: int, subjects: int = 30) -> Company:
    rng = random.Random(seed)
    holders = _holders(rng)
    purposes = _purposes(rng, holders)
    catalog = {
        "version": 1,
        "controller": {"name": f"Company {seed}", "country": rng.choice(EEA_COUNTRIES)},
        "holders": holders,
        "purposes": purposes,
    }
    company = Company(seed, catalog)
    for n in range(subjects):
        _subject(rng, company, n)
    return company


def _when(rng: random.Random, after: datetime = START, before: datetime = END) -> datetime:
    span = max(int((before - after).total_seconds()), 1)
    return after + timedelta(seconds=rng.randrange(span))


def _iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def _subject(rng: random.Random, c: Company, n: int) -> None:
    email = f"person{n}-{c.seed}@example.com"
    c.emails.append(email)
    ident: dict[str, str] = {"email": email}
    if rng.random() < 0.25:
        other = f"+45{rng.randint(10000000, 99999999)}"
        ident["phone"] = other
        c.linked[email] = [other]
    purposes = c.catalog["purposes"]
    chosen = rng.sample(sorted(purposes), rng.randint(1, 4))
    t0 = _when(rng, START, END - timedelta(days=400))
    events: list[dict[str, Any]] = []
    first = True
    for pid in chosen:
        p = purposes[pid]
        use = rng.choice(USES.get(p["data_use"], [p["data_use"]]))
        cats = sorted({rng.choice(CATEGORIES[k]) for k in p["categories"]})
        if rng.random() < 0.15:
            cats.append(rng.choice(STRAY))
        at = _when(rng, t0, t0 + timedelta(days=200))
        subject = ident if first else {"email": email}
        first = False
        if p["legal_basis"] == "consent":
            events.append(_ev("ConsentGiven", at - timedelta(minutes=1), subject, purpose=use))
        collected: dict[str, Any] = {
            "categories": cats,
            "system": p["systems"][0],
            "purpose": use,
            "legal_basis": p["legal_basis"],
            "data_subject": "customer",
        }
        if rng.random() < 0.2:
            collected["retention"] = f"P{rng.randint(6, 40)}M"
        events.append(_ev("DataCollected", at, subject, **collected))
        for r in p["recipients"]:
            if rng.random() < 0.3:
                continue
            h = c.catalog["holders"][r]
            moved = _when(rng, at, at + timedelta(days=300))
            sent = rng.sample(cats, rng.randint(1, len(cats)))
            base = {
                "categories": sorted(sent),
                "from_holder": p["systems"][0],
                "recipient": r,
                "recipient_role": h["role"],
                "purpose": use,
                "legal_basis": p["legal_basis"],
            }
            if h["country"] == "US" and rng.random() < 0.7:
                tool = (h.get("transfer") or {}).get("mechanism") or "none"
                if rng.random() < 0.2:
                    tool = rng.choice(["scc", "dpf", "privacy_shield", "safe_harbour"])
                events.append(
                    _ev(
                        "DataTransferred",
                        moved,
                        {"email": email},
                        **base,
                        destination_country="US",
                        mechanism=tool,
                    )
                )
            else:
                events.append(
                    _ev(
                        "DataShared",
                        moved,
                        {"email": email},
                        **base,
                        recipient_country=h["country"],
                    )
                )
            if r == "books" and rng.random() < 0.6:
                # onward to the sub-processor
                events.append(
                    _ev(
                        "DataTransferred",
                        moved + timedelta(hours=1),
                        {"email": email},
                        categories=sorted(sent),
                        from_holder="books",
                        recipient="hosting",
                        recipient_role="sub_processor",
                        destination_country="US",
                        mechanism=c.catalog["holders"]["hosting"]["transfer"]["mechanism"],
                        purpose=use,
                        legal_basis=p["legal_basis"],
                    )
                )
        if p["legal_basis"] == "consent" and rng.random() < 0.5:
            withdrawn = _when(rng, at, at + timedelta(days=500))
            parent = rng.choice([use, p["data_use"], use.rsplit(".", 1)[0]])
            events.append(_ev("ConsentWithdrawn", withdrawn, {"email": email}, purpose=parent))
            if rng.random() < 0.4:  # processing that should not have happened
                events.append(
                    _ev(
                        "DataShared",
                        withdrawn + timedelta(days=3),
                        {"email": email},
                        categories=cats[:1],
                        from_holder=p["systems"][0],
                        recipient="partner",
                        recipient_role="controller",
                        recipient_country="SE",
                        purpose=use,
                        legal_basis="consent",
                    )
                )
            elif rng.random() < 0.5:
                events.append(
                    _ev(
                        "ConsentGiven",
                        withdrawn + timedelta(days=30),
                        {"email": email},
                        purpose=use,
                    )
                )
    flows = [
        e for e in events if e["event_type"] in ("DataCollected", "DataShared", "DataTransferred")
    ]
    if flows and rng.random() < 0.35:
        target = rng.choice(flows)
        holder = target.get("system") or target["recipient"]
        keys = target["categories"]
        named = rng.choice([[], [rng.choice(keys)], [keys[0].rsplit(".", 1)[0]]])
        if named and named[0] == "user":
            named = []
        events.append(
            _ev(
                "DataErased",
                _when(rng, _at(target), _at(target) + timedelta(days=400)),
                {"email": email},
                holder=holder,
                categories=named,
            )
        )
    if flows and rng.random() < 0.3:
        events += _request(rng, email, flows)
    c.events += events


def _at(event: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(event["occurred_at"].replace("Z", "+00:00"))


def _request(rng: random.Random, email: str, flows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rid = str(uuid.UUID(int=rng.getrandbits(128)))
    received = _when(rng, max(_at(f) for f in flows), END)
    out = [
        _ev(
            "ErasureRequested",
            received,
            {"email": email},
            request_id=rid,
            received_at=_iso(received),
            kind=rng.choice(["erasure", "erasure", "restriction"]),
        )
    ]
    if rng.random() < 0.3:
        out.append(
            _ev(
                "ErasureExtended",
                received + timedelta(days=rng.randint(5, 25)),
                {"email": email},
                request_id=rid,
                reason="many systems",
                deadline=_iso(received + timedelta(days=rng.randint(40, 90))),
            )
        )
    holders = sorted({f.get("system") or f["recipient"] for f in flows})
    for h in holders:
        if rng.random() < 0.2:
            continue
        action = rng.choice(["erase", "notify", "retain"])
        status = rng.choice(["planned", "notified", "confirmed", "failed", "refused", "retained"])
        late = timedelta(days=rng.randint(1, 70))
        out.append(
            _ev(
                "ErasureTaskUpdated",
                received + late,
                {"email": email},
                request_id=rid,
                holder=h,
                status=status,
                action=action,
                reason="holder answered 409" if status in ("failed", "refused") else None,
            )
        )
    return out


def _ev(event_type: str, at: datetime, subject: dict[str, str], **fields: Any) -> dict[str, Any]:
    event = {
        "event_type": event_type,
        "occurred_at": _iso(at),
        "source": "generated",
        "subject": subject,
    }
    event.update({k: v for k, v in fields.items() if v is not None})
    return event
