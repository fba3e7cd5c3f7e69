"""The catalog's schema: what a company declares about its processing.

Pydantic models (pydantic already comes with fideslang) give the structure: unknown keys,
missing keys and wrong types are all reported in one pass, each with its location, which the
loader turns into file:line:column. Vocabularies (legal bases, roles, taxonomy keys, countries,
retention rules) and references between sections are checked afterwards by the loader, so
their errors can suggest the closest valid value.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator


class _Strict(BaseModel):
    # Registration numbers and postcodes are often written as YAML numbers: take them as text.
    model_config = ConfigDict(
        extra="forbid", frozen=True, str_strip_whitespace=True, coerce_numbers_to_str=True
    )


class Party(_Strict):
    """The controller, its representative (Art. 27) or its DPO (Art. 37)."""

    name: str
    address: str | None = None
    registration: str | None = None
    contact: str | None = None
    country: str | None = None


class Controller(Party):
    # Bookkeeping retention runs from the end of the financial year: MM-DD of its last day.
    financial_year_end: str = "12-31"


class TransferTool(_Strict):
    mechanism: str
    ref: str | None = None


class Dpia(_Strict):
    """The data protection impact assessment (Art. 35) for a holder's processing."""

    required: bool | None = None
    progress: str | None = None
    location: str | None = None


class Channel(_Strict):
    """How rights requests reach a holder (Art. 17(2), 19, 28(3)(g)): ``api`` (the holder's
    ``eraser``), ``email`` (its privacy contact), ``webhook`` (its HTTPS endpoint) or
    ``manual``. Secrets are never in the catalog: ``secret_env`` names an environment
    variable, ``secret_file`` a file in the lineage home."""

    kind: str
    email: str | None = None
    lang: str = "en"
    url: str | None = None
    secret_env: str | None = None
    secret_file: str | None = None
    # Identifier kinds this holder knows the subject by (data minimisation); none: all given.
    identities: list[str] = Field(default_factory=list)


class Holder(_Strict):
    """An own system (role ``own``) or a recipient of data."""

    role: str
    country: str
    name: str | None = None
    description: str | None = None
    contact: str | None = None
    dpa_signed: date | None = None
    contract: str | None = None
    transfer: TransferTool | None = None
    dpf_certified: bool = False
    sub_processors: list[str] = Field(default_factory=list)
    eraser: str | None = None
    channel: Channel | None = None
    dpia: Dpia | None = None


class RetentionSpec(_Strict):
    # ``rule`` holds the short form (``P5Y from end_of_financial_year``) when one is given.
    rule: str | None = None
    duration: str | None = None
    runs_from: str | None = None
    until_consent_withdrawn: bool = False
    note: str | None = None


class TransferDecl(_Strict):
    """A transfer outside the EEA declared for a purpose. Country and tool default to the
    recipient holder's."""

    recipient: str
    country: str | None = None
    mechanism: str | None = None
    ref: str | None = None
    safeguards: str | None = None


class Purpose(_Strict):
    name: str
    data_use: str
    legal_basis: str
    data_subjects: list[str] = Field(min_length=1)
    categories: list[str] = Field(min_length=1)
    retention: RetentionSpec
    description: str | None = None
    art9_condition: str | None = None
    legitimate_interest: str | None = None
    systems: list[str] = Field(default_factory=list)
    recipients: list[str] = Field(default_factory=list)
    transfers: list[TransferDecl] = Field(default_factory=list)
    source: str | None = None
    automated_decisions: str | None = None
    security_measures: list[str] | None = None

    @field_validator("retention", mode="before")
    @classmethod
    def _short_rule(cls, value: Any) -> Any:
        return {"rule": value} if isinstance(value, str) else value

    @field_validator("automated_decisions", mode="before")
    @classmethod
    def _yes_no(cls, value: Any) -> Any:
        if isinstance(value, bool):
            return "yes" if value else None
        return value


class CustomKey(_Strict):
    key: str
    name: str | None = None
    description: str | None = None
    # art9 / art10 for categories that are special (trade-union membership is art9).
    special: str | None = None


class TaxonomyExtension(_Strict):
    categories: list[CustomKey] = Field(default_factory=list)
    uses: list[CustomKey] = Field(default_factory=list)
    subjects: list[CustomKey] = Field(default_factory=list)


class ProcessorActivity(_Strict):
    """Art. 30(2): processing carried out as a processor on behalf of one controller."""

    controller: Party
    representative: Party | None = None
    processing: list[str] = Field(min_length=1)
    categories: list[str] = Field(default_factory=list)
    sub_processors: list[str] = Field(default_factory=list)
    transfers: list[TransferDecl] = Field(default_factory=list)
    security_measures: list[str] | None = None


class CatalogDoc(_Strict):
    version: int = 1
    controller: Controller
    representative: Party | None = None
    dpo: Party | None = None
    security_measures: list[str] = Field(default_factory=list)
    taxonomy: TaxonomyExtension = Field(default_factory=TaxonomyExtension)
    holders: dict[str, Holder] = Field(default_factory=dict)
    purposes: dict[str, Purpose] = Field(default_factory=dict)
    processor_activities: list[ProcessorActivity] = Field(default_factory=list)
