"""The dated table of EEA supervisory authorities: complete, one per state at a time, sourced."""

from __future__ import annotations

import csv
from datetime import date

from lineage.resources import data_file
from lineage.rules.transfers import in_eea
from lineage.services.authorities import authorities, authority_for


def test_the_table_covers_every_eea_state_once_with_a_source() -> None:
    today = date.today()
    with open(data_file("eea.csv"), newline="") as fh:
        eea_now = {r["country"] for r in csv.DictReader(fh) if in_eea(r["country"], today)}
    assert len(eea_now) == 30
    covered = [a.country for a in authorities() if a.covers(today)]
    assert sorted(covered) == sorted(eea_now), "one authority per EEA state, none elsewhere"
    for a in authorities():
        assert a.source.startswith("https://") and a.website.startswith("https://")
        assert a.name_en and a.name_local and a.country_en and a.country_da


def test_dates_decide_between_an_authority_and_its_successor() -> None:
    """Sweden's authority was renamed on 2021-01-01; before the GDPR applied, none."""
    before = authority_for("SE", date(2020, 12, 31))
    after = authority_for("SE", date(2021, 1, 1))
    assert before is not None and after is not None and before != after
    assert authority_for("DK", date(2018, 5, 24)) is None
    assert authority_for("NO", date(2018, 7, 19)) is None and authority_for("NO", date(2018, 7, 20))
    assert (
        authority_for("US", date(2024, 1, 1)) is None and authority_for(None, date.today()) is None
    )
