"""Retention rules: a duration and the moment it runs from, or "until consent is withdrawn".

Written in a catalog as a mapping (``{duration: P5Y, runs_from: end_of_financial_year}``) or
as a short string (``P5Y from end_of_financial_year``, ``P26W`` meaning from collection,
``until_consent_withdrawn``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime

from lineage.catalog.model import RetentionSpec
from lineage.errors import InputError
from lineage.events.taxonomy import suggest
from lineage.events.vocab import RETENTION_RUNS_FROM
from lineage.i18n import N_, NP_
from lineage.timeutil import add_duration, parse_duration

UNTIL_WITHDRAWN = "until_consent_withdrawn"
# No event marks the end of a contract or the closing of a request (yet): the last activity
# under the purpose stands in for them, and answers say the date is estimated.
ESTIMATED_FROM = ("contract_end", "request_closed")


# Durations in words, through the catalog's plural forms.
_UNITS = {
    "Y": NP_("%(num)d year", "%(num)d years"),
    "M": NP_("%(num)d month", "%(num)d months"),
    "W": NP_("%(num)d week", "%(num)d weeks"),
    "D": NP_("%(num)d day", "%(num)d days"),
}
_STARTS = {
    "collection": N_("from collection"),
    "last_activity": N_("from the last activity"),
    "contract_end": N_("from the end of the contract"),
    "end_of_financial_year": N_("from the end of the financial year"),
    "consent_withdrawal": N_("from withdrawal of consent"),
    "request_closed": N_("from the request being closed"),
}


@dataclass(frozen=True)
class RetentionRule:
    duration: str | None = None
    runs_from: str | None = None
    until_consent_withdrawn: bool = False
    note: str | None = None

    def __str__(self) -> str:
        if self.until_consent_withdrawn:
            return UNTIL_WITHDRAWN
        return f"{self.duration} from {self.runs_from}"

    def describe(self, lang: str = "en") -> str:
        """For people: ``5 years from the end of the financial year``."""
        from lineage.i18n import gettext

        _ = gettext(lang)
        if self.until_consent_withdrawn:
            text = _("until consent is withdrawn")
        else:
            start = _(_STARTS[self.runs_from or "collection"])
            text = f"{_words(self.duration or '', lang)} {start}"
        return f"{text} ({self.note})" if self.note else text

    def until(
        self,
        first: datetime,
        last: datetime,
        withdrawn: datetime | None,
        financial_year_end: str = "12-31",
    ) -> datetime | None:
        """When the data may be kept until, from the facts of one holding; None while the
        rule has no end yet (consent not withdrawn)."""
        if self.until_consent_withdrawn:
            return withdrawn
        assert self.duration is not None
        start: datetime | None
        match self.runs_from:
            case "collection":
                start = first
            case "consent_withdrawal":
                start = withdrawn
            case "end_of_financial_year":
                start = financial_year_end_after(last, financial_year_end)
            case _:  # last_activity, and the stand-ins for contract_end and request_closed
                start = last
        return add_duration(start, self.duration) if start else None

    @property
    def estimated(self) -> bool:
        return self.runs_from in ESTIMATED_FROM


def financial_year_end_after(when: datetime, year_end: str = "12-31") -> datetime:
    """The end (midnight after the last day) of the financial year that contains ``when``."""
    month, day = (int(p) for p in year_end.split("-"))
    last_day = date(when.year, month, day)
    if when.date() > last_day:
        last_day = date(when.year + 1, month, day)
    return datetime(last_day.year, last_day.month, last_day.day, tzinfo=UTC) + _ONE_DAY


_ONE_DAY = parse_duration("P1D")
_SHORT = re.compile(r"^\s*(?P<duration>\S+)(?:\s+from\s+(?P<runs_from>\S+))?\s*$")


def parse_rule(spec: RetentionSpec) -> RetentionRule:
    """Raise ``InputError`` (its ``where`` names the sub-key) when the rule does not parse."""
    if spec.rule is not None:
        if spec.duration or spec.runs_from or spec.until_consent_withdrawn:
            raise InputError("give either rule or duration/runs_from, not both", "rule")
        rule = parse_short(spec.rule)
        return RetentionRule(
            rule.duration, rule.runs_from, rule.until_consent_withdrawn, note=spec.note
        )
    return _parse_spec(spec)


def parse_short(value: str) -> RetentionRule:
    try:
        return _parse_short(value)
    except InputError as exc:
        raise InputError(exc.problem, "rule") from None


def _parse_short(value: str) -> RetentionRule:
    if value.strip() == UNTIL_WITHDRAWN:
        return RetentionRule(until_consent_withdrawn=True)
    m = _SHORT.match(value)
    if not m:
        raise InputError(
            f"retention {value!r} does not parse: write 'P5Y from end_of_financial_year', "
            f"'P26W' or '{UNTIL_WITHDRAWN}'"
        )
    return _parse_spec(
        RetentionSpec(duration=m["duration"], runs_from=m["runs_from"] or "collection")
    )


def _parse_spec(spec: RetentionSpec) -> RetentionRule:
    if spec.until_consent_withdrawn:
        if spec.duration or spec.runs_from:
            raise InputError(
                "until_consent_withdrawn takes no duration; for a period after withdrawal "
                "write runs_from: consent_withdrawal"
            )
        return RetentionRule(until_consent_withdrawn=True, note=spec.note)
    if not spec.duration:
        raise InputError(
            f"retention needs a duration (e.g. P2Y) or {UNTIL_WITHDRAWN}: true", "duration"
        )
    try:
        parse_duration(spec.duration)
    except InputError as exc:
        raise InputError(exc.problem, "duration") from None
    runs_from = spec.runs_from or "collection"
    if runs_from not in RETENTION_RUNS_FROM:
        hint = suggest(runs_from, RETENTION_RUNS_FROM)
        extra = f" (did you mean {hint[0]!r}?)" if hint else ""
        raise InputError(
            f"unknown retention start {runs_from!r}{extra}; expected one of "
            + ", ".join(RETENTION_RUNS_FROM),
            "runs_from",
        )
    return RetentionRule(spec.duration, runs_from, note=spec.note)


def _words(duration: str, lang: str) -> str:
    from lineage.i18n import ngettext

    m = re.fullmatch(r"P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?", duration)
    if not m or not any(m.groups()):
        return duration
    plural = ngettext(lang)
    parts = []
    for amount, unit in zip(m.groups(), "YMWD", strict=True):
        if amount:
            one, many = _UNITS[unit]
            n = int(amount)
            parts.append(plural(one, many, n) % {"num": n})
    return " ".join(parts)


# Free-text retention as policies and Fides manifests write it, in English and Danish.
_NUMBERS = {
    word: n
    for n, words in enumerate(
        [(), ("one", "a", "an", "en", "et"), ("two", "to"), ("three", "tre"), ("four", "fire"),
         ("five", "fem"), ("six", "seks"), ("seven", "syv"), ("eight", "otte"), ("nine", "ni"),
         ("ten", "ti"), ("eleven", "elleve"), ("twelve", "tolv")]
    )
    for word in words
}  # fmt: skip
_UNIT_WORDS = {
    "Y": r"years?|yrs?|år(?:et)?",
    "M": r"months?|mths?|måned(?:er)?",
    "W": r"weeks?|wks?|uger?",
    "D": r"days?|dage?|døgn",
}
_AMOUNT = rf"(\d+|{'|'.join(sorted(_NUMBERS, key=len, reverse=True))})"
_PERIOD = re.compile(
    rf"{_AMOUNT}\s*({'|'.join(f'(?P<{u}>{w})' for u, w in _UNIT_WORDS.items())})\b"
    # A restatement in brackets ("26 weeks (182 days)") says the same period again.
    r"(?:\s*\([^)]*\))?"
)
# Words that bound a period without changing it: "at most 6 months", "op til 5 år".
_BOUND = re.compile(
    r"^(?:(?:for|at most|up to|maximum|max\.?|no longer than|within|"
    r"i|op til|højst|maksimum|maks\.?|senest|inden(?: for)?|indtil)\s+)+"
)
_UNTIL_WITHDRAWN = re.compile(
    r"until (?:the )?(?:data subject |user |you )?(?:consent is |consent has been )?"
    r"(?:withdrawn|withdraws?(?: (?:their|his|her|your) consent)?|revoked|unsubscrib\w*"
    r"|opt(?:s|ed)? out)"
    r"|until (?:the )?(?:withdrawal|revocation) of (?:the )?consent"
    r"|indtil (?:du |den registrerede )?(?:(?:dit |sit )?samtykke(?:t)? )?"
    r"(?:trækkes tilbage|tilbagekaldes|tilbagekalder|trækker (?:dit |sit )?samtykke tilbage|"
    r"afmelder|frameld\w*)"
    r"|indtil (?:af|fra)melding|so long as (?:you are|the subject is) subscribed"
    r"|så længe du er (?:skrevet op|tilmeldt)"
)
_FROM_WORDS = r"(?:from|after|following|since|counted from|fra|efter|regnet fra)"
_START_PATTERNS = {
    "end_of_financial_year": r"(?:the )?end of (?:the )?(?:financial|fiscal|accounting) year"
    r"|(?:udløbet af |afslutningen af |slutningen af )?(?:det )?regnskabsår(?:et)?"
    r"(?:s (?:udløb|afslutning|slutning))?",
    "contract_end": r"(?:the )?(?:end|termination|expiry|close) of (?:the )?(?:contract|agreement|"
    r"(?:customer|business|client) relationship|account|subscription)|contract end"
    r"|(?:kunde|forretnings)forholdet(?:s)? (?:ophør|afslutning)"
    r"|(?:at )?(?:kunde|forretnings)forholdet er ophørt"
    r"|kontrakten(?:s)? (?:ophør|udløb)|aftalens ophør",
    "last_activity": r"(?:the )?(?:last|latest|most recent) (?:activity|contact|login|interaction|"
    r"processing|use|order|purchase)|seneste (?:kontakt|aktivitet|henvendelse|login|køb)"
    r"|sidste (?:behandling|kontakt|aktivitet|henvendelse)",
    "consent_withdrawal": r"(?:the )?withdrawal of (?:the )?consent|consent (?:is |was )?withdrawn"
    r"|(?:tilbagetrækning|tilbagekaldelse) af (?:dit )?samtykke",
    "collection": r"(?:the )?(?:collection|registration|receipt|creation)|indsamling(?:en)?"
    r"|registrering(?:en)?|modtagelse(?:n)?",
    "request_closed": r"(?:the )?(?:request|case|enquiry|inquiry|ticket) (?:is )?"
    r"(?:closed|ended|resolved)"
    r"|(?:the )?(?:rejection|closing of the (?:request|case))|afslag|henvendelsens afslutning"
    r"|der er givet afslag",
}


def rule_from_text(text: str) -> str | None:
    """The short rule (``P5Y from end_of_financial_year``) a retention written in words
    says, or None when the words say something this cannot read for certain.

    Reads ISO 8601 durations, a bare number of days (how Fides stores a period), "5
    years", "5 år", "6 months", "26 weeks", "1 year and 6 months", what the period runs
    from ("after the end of the financial year", "fra seneste kontakt") and "until consent
    is withdrawn" / "indtil samtykke trækkes tilbage". Anything left over that is not
    understood makes the answer None: a start that is not read would change the date."""
    words = " ".join(str(text).lower().replace("’", "'").split()).strip(" .;")
    if not words:
        return None
    if re.fullmatch(r"\d+", words):
        return f"P{int(words)}D from collection" if int(words) > 0 else None
    short = re.fullmatch(r"(p[0-9ymwdt]+)((?: from \S+)?)", words)
    if short:
        try:
            return str(_parse_short(short.group(1).upper() + short.group(2)))
        except InputError:
            return None
    if _UNTIL_WITHDRAWN.fullmatch(words):
        return UNTIL_WITHDRAWN
    rest = _BOUND.sub("", words)
    amounts: dict[str, int] = {}
    while m := _PERIOD.match(rest):
        unit = next(u for u in _UNIT_WORDS if m.group(u))
        n = int(m.group(1)) if m.group(1).isdigit() else _NUMBERS[m.group(1)]
        if unit in amounts or n <= 0:
            return None
        amounts[unit] = n
        rest = re.sub(r"^\s*(?:,|and|og|&)?\s*", "", rest[m.end() :])
    if not amounts:
        return None
    duration = "P" + "".join(f"{amounts[u]}{u}" for u in "YMWD" if u in amounts)
    if "W" in amounts and len(amounts) > 1:
        return None  # ISO 8601 does not combine weeks with other units
    runs_from = "collection"
    if rest:
        m = re.fullmatch(rf"{_FROM_WORDS}\s+(.*)", rest)
        if not m:
            return None
        for start, pattern in _START_PATTERNS.items():
            if re.fullmatch(pattern, m.group(1)):
                runs_from = start
                break
        else:
            return None
    return f"{duration} from {runs_from}"
