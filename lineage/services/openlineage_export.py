"""The company's personal-data flows as OpenLineage run events (spec 2-0-2), aggregated.

The mapping, so data teams' lineage tools (Marquez, DataHub, OpenMetadata...) show where
personal data goes:

- a **dataset** is one holder's data of one category group (``user.contact``: the fideslang
  key's first two levels), named ``HOLDER/GROUP`` in the namespace ``lineage://COMPANY``;
  collection reads from ``data-subjects/GROUP``;
- a **job** is a purpose: the catalog purpose each flow matches by the rulebook's one
  matching rule (``Catalog.purposes_for``), else the event's data use;
- one **run** per job and export window, COMPLETE at the window's end, with every source of
  the job's flows as input and every target as output. Its id derives from the namespace,
  job and window, so sending the same export twice updates one run instead of adding one;
- standard facets: ``tags`` on datasets (``pii``, each category, special categories (Art. 9
  and 10), legal bases, role, country, transfer tool and whether it is valid, as the
  rulebook judges it), ``documentation`` and ``jobType`` on jobs, ``nominalTime`` on runs;
- custom facets, named after this project as the spec's naming rule asks (key
  ``lineage_NAME``, a ``_schemaURL`` to the schema shipped in ``lineage/data/openlineage``):
  ``lineage_personalData`` on datasets, ``lineage_purpose`` on jobs, ``lineage_flows`` on
  runs.

Nothing about a person leaves: every figure is a count of subjects or events.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import attr
from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.facet_v2 import (
    DatasetFacet,
    JobFacet,
    RunFacet,
    documentation_job,
    job_type_job,
    nominal_time_run,
    tags_dataset,
)
from openlineage.client.serde import Serde

from lineage import __version__
from lineage.catalog.fides_terms import slug
from lineage.events import kinds
from lineage.projection.store import Store
from lineage.rules.taxonomy import special_category
from lineage.rules.transfers import in_eea
from lineage.services.evidence import observed_flows, register
from lineage.timeutil import iso

if TYPE_CHECKING:
    from lineage.catalog.catalog import Catalog

# No public home to point at yet: the producer and the custom facets' schemas are URNs; the
# schemas themselves ship in the package (lineage/data/openlineage).
PRODUCER = f"urn:lineage:{__version__}"
SUBJECTS = "data-subjects"
TAG_SOURCE = "lineage"


def facet_schema(name: str) -> str:
    return f"urn:lineage:openlineage:facets:1-0-0:{name}.json#/$defs/{name}"


@attr.define
class LineagePersonalDataDatasetFacet(DatasetFacet):
    """What one holder keeps of one category group, summed over subjects."""

    holder: str
    role: str | None
    country: str | None
    insideEea: bool | None
    categoryGroup: str
    categories: list[str]
    specialCategories: dict[str, str]
    legalBases: list[str]
    dataUses: list[str]
    subjects: int
    events: int
    firstSeen: str | None
    lastSeen: str | None
    declared: bool | None
    transfers: list[dict[str, Any]]
    name: str | None = None

    @staticmethod
    def _get_schema() -> str:
        return facet_schema("LineagePersonalDataDatasetFacet")


@attr.define
class LineagePurposeJobFacet(JobFacet):
    """The purpose a job stands for: the catalog's, or only a data use."""

    purpose: str
    declared: bool
    dataUses: list[str]
    name: str | None = None
    dataUse: str | None = None
    legalBasis: str | None = None
    retention: str | None = None
    art9Condition: str | None = None

    @staticmethod
    def _get_schema() -> str:
        return facet_schema("LineagePurposeJobFacet")


@attr.define
class LineageFlowsRunFacet(RunFacet):
    """The flows a run stands for, from source to target dataset, with their counts."""

    flows: list[dict[str, Any]]

    @staticmethod
    def _get_schema() -> str:
        return facet_schema("LineageFlowsRunFacet")


def group_of(category: str) -> str:
    """A category's group: its first two levels (``user.contact.email`` -> ``user.contact``)."""
    return ".".join(category.split(".")[:2])


@dataclass
class _Job:
    name: str
    inputs: dict[tuple[str, str], None] = field(default_factory=dict)
    outputs: dict[tuple[str, str], None] = field(default_factory=dict)
    flows: list[dict[str, Any]] = field(default_factory=list)
    first: datetime | None = None
    uses: set[str] = field(default_factory=set)


class _Exporter:
    def __init__(
        self,
        store: Store,
        as_of: datetime,
        since: datetime | None,
        catalog: Catalog | None,
        namespace: str,
    ) -> None:
        self.store = store
        self.as_of = as_of
        self.since = since
        self.catalog = catalog
        self.namespace = namespace

    def special(self, category: str) -> str | None:
        return self.catalog.special(category) if self.catalog else special_category(category)

    def jobs_of(self, use: str | None, holder: str, category: str, basis: str | None) -> list[str]:
        if self.catalog is not None:
            pids = self.catalog.purposes_for(use, holder, category, basis)
            pids = [p for p in pids if self.catalog.declares_category([p], category)]
            if pids:
                return pids
        return [use or "unknown-purpose"]

    def rows(self) -> list[dict[str, Any]]:
        combos = {
            (f.purpose, f.holder, c, f.legal_basis)
            for f in observed_flows(self.store, self.as_of)
            for c in f.categories
        }
        mapping = [
            (use, holder, category, basis, job, group_of(category))
            for use, holder, category, basis in sorted(combos, key=str)
            for job in self.jobs_of(use, holder, category, basis)
        ]
        columns = ("purpose", "holder", "category", "legal_basis", "job", "grp")
        register(self.store, "ol_map", columns, mapping)
        try:
            return self.store.fetch_dicts(
                "openlineage_flows", {"as_of": self.as_of, "since": self.since}
            )
        finally:
            self.store.con.unregister("ol_map")

    def transfers(self) -> dict[str, list[dict[str, Any]]]:
        """Per holder outside the EEA: its transfers as the rulebook judges them (the audit's
        and the map's sums), by source, data use and tool."""
        from lineage.services.company import company

        out: dict[str, list[dict[str, Any]]] = {}
        for t in company(self.store, self.as_of, self.catalog).transfers.values():
            out.setdefault(t.holder, []).append(
                {
                    "country": t.country,
                    "mechanism": t.mechanism,
                    "valid": t.invalid == 0,
                    "fromHolder": t.from_holder,
                    "dataUse": t.purpose,
                    "subjects": t.subjects,
                    "invalidSubjects": t.invalid,
                    "reasons": [p.english() for p in t.problems],
                }
            )
        return out

    # -- datasets -------------------------------------------------------------------------
    def dataset_facets(
        self, row: dict[str, Any], transfers: list[dict[str, Any]]
    ) -> dict[str, DatasetFacet]:
        holder = row["holder"]
        declared = self.catalog.holders.get(holder) if self.catalog else None
        role = declared.role if declared else (row["roles"] or [None])[-1]
        country = declared.country if declared else (row["countries"] or [None])[-1]
        inside = in_eea(country, self.as_of.date()) if country else None
        special = {c: a for c in row["categories"] if (a := self.special(c))}
        tags = [("pii", "true", None)]
        tags += [("data_category", c, c) for c in row["categories"]]
        tags += [("special_category", a, c) for c, a in special.items()]
        tags += [("legal_basis", b, None) for b in row["legal_bases"]]
        tags += [("role", role, None)] if role else []
        tags += [("country", country, None)] if country else []
        for t in transfers:
            tags += [("transfer_tool", t["mechanism"], None)]
        if transfers:
            tags += [("transfer_valid", str(all(t["valid"] for t in transfers)).lower(), None)]
        facet = LineagePersonalDataDatasetFacet(
            holder=holder,
            name=declared.name if declared else None,
            role=role,
            country=country,
            insideEea=inside,
            categoryGroup=row["grp"],
            categories=list(row["categories"]),
            specialCategories=special,
            legalBases=list(row["legal_bases"]),
            dataUses=list(row["data_uses"]),
            subjects=row["subjects"],
            events=row["events"],
            firstSeen=iso(row["first_seen"]),
            lastSeen=iso(row["last_seen"]),
            declared=(declared is not None) if self.catalog else None,
            transfers=transfers,
            producer=PRODUCER,
        )
        return {
            "tags": tags_dataset.TagsDatasetFacet(
                tags=[
                    tags_dataset.TagsDatasetFacetFields(k, v, TAG_SOURCE, f)
                    for k, v, f in dict.fromkeys(tags)
                ],
                producer=PRODUCER,
            ),
            "lineage_personalData": facet,
        }

    def subjects_facets(self, subjects: Iterable[str]) -> dict[str, DatasetFacet]:
        tags = [tags_dataset.TagsDatasetFacetFields("pii", "true", TAG_SOURCE)]
        tags += [
            tags_dataset.TagsDatasetFacetFields("data_subject", s, TAG_SOURCE) for s in subjects
        ]
        return {"tags": tags_dataset.TagsDatasetFacet(tags=tags, producer=PRODUCER)}

    # -- jobs -----------------------------------------------------------------------------
    def job_facets(self, job: _Job) -> dict[str, JobFacet]:
        p = self.catalog.purposes.get(job.name) if self.catalog else None
        text = (f"{p.name}: {p.description}" if p.description else p.name) if p else None
        purpose = LineagePurposeJobFacet(
            purpose=job.name,
            declared=p is not None,
            dataUses=sorted(job.uses),
            name=p.name if p else None,
            dataUse=p.data_use if p else None,
            legalBasis=p.legal_basis if p else None,
            retention=str(self.catalog.rules[job.name]) if p and self.catalog else None,
            art9Condition=p.art9_condition if p else None,
            producer=PRODUCER,
        )
        facets: dict[str, JobFacet] = {
            "jobType": job_type_job.JobTypeJobFacet(
                processingType="BATCH", integration="LINEAGE", jobType="PURPOSE", producer=PRODUCER
            ),
            "lineage_purpose": purpose,
        }
        facets["documentation"] = documentation_job.DocumentationJobFacet(
            description=text or f"Personal data processed under the data use {job.name}",
            producer=PRODUCER,
        )
        return facets

    # -- the events -----------------------------------------------------------------------
    def events(self) -> list[RunEvent]:
        rows = self.rows()
        transfers = self.transfers()
        datasets = {(r["holder"], r["grp"]): r for r in rows if r["per_dataset"]}
        jobs: dict[str, _Job] = {}
        subjects: dict[str, set[str]] = {}
        for r in rows:
            if r["per_dataset"]:
                continue
            job = jobs.setdefault(r["job"], _Job(r["job"]))
            source = r["from_holder"] if r["event_type"] != kinds.COLLECTED else SUBJECTS
            if source == SUBJECTS:
                subjects.setdefault(r["grp"], set()).update(r["data_subjects"])
            job.inputs[(source or SUBJECTS, r["grp"])] = None
            job.outputs[(r["holder"], r["grp"])] = None
            job.uses.update(r["data_uses"])
            job.first = r["first_seen"] if job.first is None else min(job.first, r["first_seen"])
            job.flows.append(
                {
                    "eventType": r["event_type"],
                    "from": f"{source or SUBJECTS}/{r['grp']}",
                    "to": f"{r['holder']}/{r['grp']}",
                    "dataUses": list(r["data_uses"]),
                    "legalBases": list(r["legal_bases"]),
                    "subjects": r["subjects"],
                    "events": r["events"],
                    "firstSeen": iso(r["first_seen"]),
                    "lastSeen": iso(r["last_seen"]),
                }
            )

        def facets(holder: str, grp: str) -> dict[str, DatasetFacet]:
            if holder == SUBJECTS:
                return self.subjects_facets(sorted(subjects.get(grp, ())))
            row = datasets.get((holder, grp))
            return self.dataset_facets(row, transfers.get(holder, [])) if row else {}

        out = []
        for name in sorted(jobs):
            job = jobs[name]
            start = self.since or job.first
            run_facets: dict[str, RunFacet] = {
                "nominalTime": nominal_time_run.NominalTimeRunFacet(
                    nominalStartTime=iso(start) or "",
                    nominalEndTime=iso(self.as_of),
                    producer=PRODUCER,
                ),
                "lineage_flows": LineageFlowsRunFacet(flows=job.flows, producer=PRODUCER),
            }
            window = f"{self.namespace}|{name}|{iso(self.since)}|{iso(self.as_of)}"
            out.append(
                RunEvent(
                    eventType=RunState.COMPLETE,
                    eventTime=iso(self.as_of) or "",
                    run=Run(runId=str(uuid.uuid5(uuid.NAMESPACE_URL, window)), facets=run_facets),
                    job=Job(namespace=self.namespace, name=name, facets=self.job_facets(job)),
                    inputs=[
                        InputDataset(self.namespace, f"{h}/{g}", facets=facets(h, g))
                        for h, g in job.inputs
                    ],
                    outputs=[
                        OutputDataset(self.namespace, f"{h}/{g}", facets=facets(h, g))
                        for h, g in job.outputs
                    ],
                    producer=PRODUCER,
                )
            )
        return out


def namespace_for(catalog: Catalog | None) -> str:
    name = catalog.doc.controller.name if catalog else "company"
    return f"lineage://{slug(name)}"


def run_events(
    store: Store,
    as_of: datetime,
    since: datetime | None = None,
    catalog: Catalog | None = None,
    namespace: str | None = None,
) -> list[RunEvent]:
    """One COMPLETE run event per purpose with flows between ``since`` and ``as_of``."""
    return _Exporter(store, as_of, since, catalog, namespace or namespace_for(catalog)).events()


def to_json(event: RunEvent) -> str:
    return Serde.to_json(event)
