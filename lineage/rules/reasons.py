"""Texts the rules give people (why a transfer is invalid, what an audit finding means): a
stable code with its parameters, rendered where it is shown, in the reader's language.

A text is a tuple of ``Reason`` parts, shown joined by ``"; "``. The English templates below
are the gettext message ids (``N_`` marks them for ``pybabel extract``); parameters are
codes, names, dates and numbers, never sentences, so every language renders the same facts.
JSON carries the English rendering (``reason``) for people reading it and the parts
(``reason_code``, ``reason_parts``) for programs and for renderers in other languages
(``lineage.services.plain.text``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from lineage.i18n import N_

# Every code the rules use, with its English template. A code never changes meaning; a new
# wording keeps the code (the catalogs then need the new text translated).
TEMPLATES: dict[str, str] = {
    # Transfer validity (rules.transfers).
    "transfer.in_eea": N_("%(country)s is in the EEA"),
    "transfer.no_tool": N_("no transfer tool for %(country)s"),
    "transfer.no_adequacy": N_("%(country)s has no adequacy decision"),
    "transfer.adequacy_not_covering": N_(
        "the adequacy decision for %(country)s did not cover %(date)s"
    ),
    "transfer.unknown_tool": N_("unknown transfer tool %(mechanism)s"),
    "transfer.not_for_country": N_("%(mechanism)s does not apply to %(country)s"),
    "transfer.not_yet": N_("%(mechanism)s did not exist yet on %(date)s"),
    "transfer.invalid_from": N_("%(mechanism)s was invalid from %(date)s"),
    "transfer.invalidated": N_("%(mechanism)s was invalidated on %(date)s"),
    # A valid tool: its legal source (a decision's number or a judgment), cited as is.
    "transfer.valid": N_("%(source)s"),
    "transfer.not_dpf_certified": N_("%(holder)s is not marked DPF-certified"),
    # Audit findings (services.audit): the finding, then the fix.
    "audit.no_dpa.processor": N_(
        "%(holder)s is a processor with no data processing agreement recorded"
    ),
    "audit.no_dpa.sub_processor": N_(
        "%(holder)s is a sub-processor with no data processing agreement recorded"
    ),
    "audit.no_dpa.fix": N_(
        "sign a DPA (Art. 28(3)) and record its date as holders.%(holder)s.dpa_signed"
    ),
    "audit.no_channel.processor": N_(
        "%(holder)s is a processor with no channel for erasure and other rights requests: "
        "nothing will reach it"
    ),
    "audit.no_channel.sub_processor": N_(
        "%(holder)s is a sub-processor with no channel for erasure and other rights requests: "
        "nothing will reach it"
    ),
    "audit.no_channel.fix": N_(
        "name one as holders.%(holder)s.channel (kind email, webhook, api or manual; "
        "Art. 28(3)(e), (g))"
    ),
    "audit.declared_tool_invalid": N_(
        "%(holder)s is in %(country)s and the catalog's transfer tool (%(mechanism)s) is not valid"
    ),
    "audit.special_declared": N_(
        "purpose %(purpose)s declares special categories (%(categories)s) without an Art. 9(2) "
        "condition"
    ),
    "audit.special_declared.fix": N_(
        "set purposes.%(purpose)s.art9_condition (e.g. explicit_consent) or stop processing "
        "these categories"
    ),
    "audit.interest_missing": N_(
        "purpose %(purpose)s relies on legitimate interests without stating them"
    ),
    "audit.interest_missing.fix": N_(
        "write the interest and the balancing in purposes.%(purpose)s.legitimate_interest"
    ),
    "audit.dpf_unknown": N_(
        "transfers to %(holder)s rely on the Data Privacy Framework; without a catalog lineage "
        "cannot tell whether %(holder)s is certified"
    ),
    "audit.dpf_unknown.fix": N_(
        "check the DPF list and declare %(holder)s with dpf_certified in a catalog"
    ),
    "audit.dpf_uncertified": N_(
        "transfers to %(holder)s rely on the Data Privacy Framework, but %(holder)s is not "
        "marked as certified"
    ),
    "audit.dpf_uncertified.fix": N_(
        "check the DPF list and set holders.%(holder)s.dpf_certified: true, or use the 2021 SCCs"
    ),
    "audit.transfer_fix_us": N_(
        "use the DPF with a certified recipient, or the 2021 SCCs with a transfer assessment"
    ),
    "audit.transfer_fix": N_(
        "sign the 2021 SCCs (Decision 2021/914) or rely on an adequacy decision"
    ),
    "audit.transfer_invalid": N_(
        "data of %(subjects)s subject(s) went to %(holder)s in %(country)s under %(mechanism)s"
    ),
    "audit.transfer_invalid_no_tool": N_(
        "data of %(subjects)s subject(s) went to %(holder)s in %(country)s under no tool"
    ),
    "audit.no_catalog_declares": N_("no catalog declares one"),
    "audit.undeclared_recipient": N_(
        "%(subjects)s subject(s)' data observed at %(holder)s for %(purposes)s, which does not "
        "declare it"
    ),
    "audit.undeclared_recipient.fix": N_("add %(holder)s to purposes.%(purpose)s.recipients"),
    "audit.undeclared_recipient.fix_holder": N_(
        "add %(holder)s to purposes.%(purpose)s.recipients and declare it under holders.%(holder)s"
    ),
    "audit.undeclared_category": N_(
        "categories %(categories)s observed at %(holder)s for %(purposes)s are not declared"
    ),
    "audit.undeclared_category.fix": N_(
        "add them to purposes.%(purpose)s.categories, or stop collecting them"
    ),
    "audit.special_observed": N_(
        "special categories %(categories)s observed at %(holder)s for %(purposes)s without an "
        "Art. 9(2) condition"
    ),
    "audit.special_observed.fix": N_(
        "set purposes.%(purpose)s.art9_condition or stop processing them"
    ),
    "audit.undeclared_purpose": N_(
        "events under %(purpose)s at %(holders)s: no catalog purpose covers this data use"
    ),
    "audit.undeclared_purpose.fix": N_(
        "declare a purpose with data_use: %(purpose)s (or an ancestor of it), or correct the "
        "connector"
    ),
    "audit.never_observed": N_(
        "%(holder)s is declared as a recipient for %(purpose)s but no event shows it receiving data"
    ),
    "audit.never_observed.fix": N_(
        "connect the recipient's flow to lineage, or remove it from the catalog"
    ),
    "audit.retention_overdue": N_(
        "%(subjects)s subject(s)' data at %(holder)s (%(categories)s) held past retention "
        "(ended from %(date)s)"
    ),
    "audit.special_categories": N_("special categories: %(categories)s"),
    "audit.retention_overdue.fix": N_(
        "erase it at %(holder)s (lineage erase) or record the Art. 17(3) reason to keep it"
    ),
    "audit.consent_withdrawn": N_(
        "%(events)s event(s) at %(holder)s processed %(subjects)s subject(s)' data under "
        "consent for %(purpose)s after they withdrew it"
    ),
    "audit.consent_withdrawn.fix": N_(
        "stop the flow for subjects who withdrew (check the connector honours withdrawal)"
    ),
    "audit.erasure_overdue": N_(
        "%(kind)s request %(request)s received %(received)s is past its deadline %(deadline)s"
    ),
    "audit.open_at": N_("open at %(holders)s"),
    "audit.no_task": N_("no task recorded"),
    # A holder's own words (an eraser's or channel's failure), quoted as recorded.
    "audit.failed_at": N_("%(holder)s failed: %(note)s"),
    "audit.erasure_overdue.fix": N_(
        "complete the tasks, or tell the subject of the extension (Art. 12(3)) with reasons"
    ),
    "audit.withdrawal_failed": N_(
        "the notice of withdrawn consent to %(purpose)s (request %(request)s) did not reach "
        "%(holder)s via %(channel)s: %(note)s"
    ),
    "audit.withdrawal_failed.fix": N_(
        "lineage erasure retry %(request)s --holder %(holder)s --id KIND=VALUE, or tell it by "
        "hand and lineage erasure confirm %(request)s --holder %(holder)s"
    ),
    # Why a rights request's task exists (services.erasure): erase, retain or notify.
    "task.erase": N_("no purpose justifies keeping it"),
    "task.notify.controller": N_(
        "independent controller: tell it of the erasure (Art. 19); it decides itself"
    ),
    "task.notify.joint_controller": N_(
        "independent joint controller: tell it of the erasure (Art. 19); it decides itself"
    ),
    "task.notify.public_authority": N_(
        "independent public authority: tell it of the erasure (Art. 19); it decides itself"
    ),
    "task.notify.rectification": N_(
        "recipient (%(role)s): communicate the rectification (Art. 19)"
    ),
    "task.notify.restriction": N_("recipient (%(role)s): communicate the restriction (Art. 19)"),
    "task.notify.withdrawal": N_(
        "recipient (%(role)s) of data under %(uses)s: consent withdrawn, stop processing for "
        "%(use)s (Art. 7(3), 21(3), 28(3)(a))"
    ),
    "task.sub_processor": N_("sub-processor named by %(holder)s (Art. 28(2), 28(4))"),
    # Art. 17(3) grounds for keeping data, with the data use; ``rules`` are the catalog's
    # retention rules for it (rendered by ``catalog.retention.RetentionRule.describe``).
    "task.retain.legal_obligation": N_("Art. 17(3)(b) legal obligation (%(use)s)"),
    "task.retain.public_task": N_("Art. 17(3)(b) public task (%(use)s)"),
    "task.retain.legal_claims": N_("Art. 17(3)(e) legal claims (%(use)s)"),
    "task.retain.legal_obligation.catalog": N_(
        "Art. 17(3)(b) legal obligation (%(use)s, catalog: %(rules)s)"
    ),
    "task.retain.public_task.catalog": N_(
        "Art. 17(3)(b) public task (%(use)s, catalog: %(rules)s)"
    ),
    "task.retain.legal_claims.catalog": N_(
        "Art. 17(3)(e) legal claims (%(use)s, catalog: %(rules)s)"
    ),
    "task.retain.at_holder": N_("Art. 17(3)(b) legal obligation at the holder"),
    "task.retain.until": N_("restricted (Art. 18) until %(date)s, then erased"),
    "task.retain.no_period": N_("no retention period recorded: restricted until one is declared"),
    "task.retain.until_holder_declares": N_(
        "restricted until the holder declares when its retention ends"
    ),
    # An eraser's own words, quoted as recorded.
    "task.held.reports": N_("%(eraser)s reports: %(note)s"),
    "task.held": N_("%(eraser)s retains it"),
}

# Codes whose parts name the Art. 17(3) ground itself (kept when a holder reports its own
# retention: the ground stays, the period is the holder's).
GROUNDS = frozenset(c for c in TEMPLATES if c.startswith("task.retain.legal_")) | frozenset(
    c for c in TEMPLATES if c.startswith("task.retain.public_task")
)


@dataclass(frozen=True)
class Reason:
    """One part of a text: ``code`` names its template, ``params`` fill it."""

    code: str
    params: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.code not in TEMPLATES:
            raise KeyError(f"no text has the code {self.code!r}")

    def __hash__(self) -> int:  # texts are collected once each (``dict.fromkeys``)
        return hash((self.code, repr(sorted(self.params.items()))))

    def english(self) -> str:
        return self.render(TEMPLATES[self.code], "en")

    def render(self, template: str, lang: str) -> str:
        """``template`` (this code's, translated) filled with the parameters; catalog
        retention rules (``rules``) described in ``lang``."""
        params = dict(self.params)
        if isinstance(params.get("rules"), list):
            params["rules"] = _rules(params["rules"], lang)
        return template % params

    def to_json(self) -> dict[str, Any]:
        return {"code": self.code, "params": dict(self.params)}


Text = tuple[Reason, ...]


def rule_params(purpose: str, rule: Any) -> dict[str, Any]:
    """A catalog retention rule (``catalog.retention.RetentionRule``) as a parameter."""
    return {
        "purpose": purpose,
        "duration": rule.duration,
        "runs_from": rule.runs_from,
        "until_consent_withdrawn": rule.until_consent_withdrawn,
        "note": rule.note,
    }


def _rules(rules: list[Mapping[str, Any]], lang: str) -> str:
    from lineage.catalog.retention import RetentionRule

    return "; ".join(
        f"{r['purpose']}: "
        + RetentionRule(
            r.get("duration"),
            r.get("runs_from"),
            bool(r.get("until_consent_withdrawn")),
            r.get("note"),
        ).describe(lang)
        for r in rules
    )


def english(parts: Iterable[Reason]) -> str:
    """The text as the rules wrote it: JSON's ``reason``, ``message`` and ``fix``."""
    return "; ".join(p.english() for p in parts)


def to_json(parts: Sequence[Reason]) -> list[dict[str, Any]]:
    return [p.to_json() for p in parts]


def from_json(parts: Iterable[Mapping[str, Any]] | None) -> Text:
    """The parts of a text read back from JSON (a service's answer); unknown codes, from a
    newer service, make it empty, so the caller shows the English text instead."""
    parts = list(parts or ())
    if not all(p.get("code") in TEMPLATES for p in parts):
        return ()
    return tuple(Reason(p["code"], p.get("params") or {}) for p in parts)
