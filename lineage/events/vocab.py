"""Closed vocabularies of the event model (the taxonomy keys live in ``taxonomy``)."""

from __future__ import annotations

LEGAL_BASES = (
    "consent",
    "contract",
    "legal_obligation",
    "vital_interests",
    "public_task",
    "legitimate_interests",
)

RECIPIENT_ROLES = (
    "processor",
    "sub_processor",
    "controller",
    "joint_controller",
    "public_authority",
)

# Own systems appear as holders with this role.
OWN_ROLE = "controller"

ORIGINS = ("data_subject", "third_party")

# Transfer tools; their validity dates are data in lineage/data/transfer_mechanisms.csv.
MECHANISMS = (
    "adequacy",
    "dpf",
    "scc",
    "scc_2010",
    "bcr",
    "derogation",
    "privacy_shield",
    "safe_harbour",
    "none",
)

ERASURE_TASK_STATUSES = (
    "planned",
    "sending",
    "notified",
    "confirmed",
    "refused",
    "failed",
    "retained",
)

RETENTION_RUNS_FROM = (
    "collection",
    "last_activity",
    "contract_end",
    "end_of_financial_year",
    "consent_withdrawal",
    "request_closed",
)

# What a request's task does at one holder: erase there, retain under an Art. 17(3)
# exception (erased when it ends), or notify an independent controller (Art. 19).
ERASURE_ACTIONS = ("erase", "retain", "notify")

# Rights requests tracked as ErasureRequested: Art. 17, Art. 16, Art. 18.
REQUEST_KINDS = ("erasure", "rectification", "restriction", "withdrawal")
