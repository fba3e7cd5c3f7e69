"""What a connector's events say about a holder, taken from the catalog's declaration.

The catalog names holders (role, country, transfer tool) and purposes (data use, legal
basis, data subjects, retention, recipients, transfers). A connector that reports data at a
holder should say what the company declared for it, not the connector's built-in guess: this
turns the catalog's entry for the holder into the ``Defaults`` fields a connector takes
(``Connector.mapping_defaults(catalog=...)``). A key that is present but None overrides the
connector's default (no transfer for a holder inside the EEA, no retention period for data
kept until consent is withdrawn).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from lineage.catalog.catalog import OWN, Catalog
from lineage.rules.transfers import in_eea


def holder_of(catalog: Catalog, recipient: str, connector: str) -> str | None:
    """The catalog holder a connector reports on: its recipient when the catalog declares
    it, else the holder whose ``eraser`` is this connector."""
    if recipient and recipient in catalog.holders:
        return recipient
    for name, holder in catalog.holders.items():
        if holder.eraser == connector and holder.role != OWN:
            return name
    return None


def holder_defaults(
    catalog: Catalog,
    holder: str,
    *,
    purpose_hint: str | None = None,
    subject_hint: str | None = None,
    on: datetime | None = None,
) -> dict[str, Any]:
    """The catalog's entry for ``holder`` as connector defaults; {} when it is not declared.

    Of the purposes that name the holder as a recipient (or transfer recipient), the one
    whose data use is ``purpose_hint`` wins, else the first declared."""
    h = catalog.holders.get(holder)
    if h is None:
        return {}
    out: dict[str, Any] = {"recipient": holder}
    if h.role != OWN:
        out["recipient_role"] = h.role
    out["recipient_country"] = h.country
    candidates = [
        pid
        for pid, p in catalog.purposes.items()
        if holder in p.recipients or any(t.recipient == holder for t in p.transfers)
    ]
    pid = next((c for c in candidates if catalog.purposes[c].data_use == purpose_hint), None)
    pid = pid or (candidates[0] if candidates else None)
    country, mechanism = h.country, h.transfer.mechanism if h.transfer else None
    ref = h.transfer.ref if h.transfer else None
    if mechanism is None and h.dpf_certified:
        mechanism = "dpf"
    if pid is not None:
        p = catalog.purposes[pid]
        out["purpose"] = p.data_use
        out["legal_basis"] = p.legal_basis
        subjects = p.data_subjects
        out["data_subject"] = subject_hint if subject_hint in subjects else subjects[0]
        rule = catalog.rules.get(pid)
        if rule is not None:
            out["retention"] = None if rule.until_consent_withdrawn else rule.duration
        own = [s for s in p.systems if catalog.is_own(s)]
        if own:
            out["own_system"] = own[0]
        declared = catalog.transfer_of(pid, holder)
        if declared is not None:
            country = declared.country or country
            mechanism = declared.mechanism or mechanism
            ref = declared.ref or ref
    if in_eea(country, (on or datetime.now(UTC)).date()):
        out["transfer_country"] = None
    else:
        out["transfer_country"] = country
        # No declared tool is recorded as such ("none"), for the audit to flag.
        out["mechanism"] = mechanism or "none"
        out["mechanism_ref"] = ref
    return out
