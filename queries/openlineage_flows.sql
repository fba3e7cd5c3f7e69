-- Company-level flows for the OpenLineage export, aggregated: no subject reference leaves.
-- ol_map(purpose, holder, category, legal_basis, job, grp) is registered by the caller: the
-- job (catalog purpose by the rulebook's matching, else the data use) and the category group
-- each category received under a data use and basis at a holder belongs to.
-- Two groupings in one pass: per flow (job, source, target dataset) and per dataset (holder x
-- category group, across jobs); `per_dataset` tells them apart.
WITH received AS (
    SELECT event_id, subject_ref, event_type, purpose, legal_basis, holder, from_holder, role,
           country, data_subject, occurred_at, unnest(categories) AS category
    FROM events
    WHERE event_type IN @FLOWS
      AND occurred_at <= $as_of
      AND ($since IS NULL OR occurred_at > $since)
)
SELECT
    grouping(m.job) = 1 AS per_dataset,
    m.job,
    e.event_type,
    e.from_holder,
    e.holder,
    m.grp,
    list_sort(list_distinct(list(e.category))) AS categories,
    list_sort(list_distinct(list(e.legal_basis) FILTER (WHERE e.legal_basis IS NOT NULL)))
        AS legal_bases,
    list_sort(list_distinct(list(e.purpose) FILTER (WHERE e.purpose IS NOT NULL))) AS data_uses,
    list_sort(list_distinct(list(e.data_subject) FILTER (WHERE e.data_subject IS NOT NULL)))
        AS data_subjects,
    list_sort(list_distinct(list(e.role) FILTER (WHERE e.role IS NOT NULL))) AS roles,
    list_sort(list_distinct(list(e.country) FILTER (WHERE e.country IS NOT NULL))) AS countries,
    count(DISTINCT e.subject_ref) AS subjects,
    count(DISTINCT e.event_id) AS events,
    min(e.occurred_at) AS first_seen,
    max(e.occurred_at) AS last_seen
FROM received e
JOIN ol_map m
  ON m.purpose IS NOT DISTINCT FROM e.purpose
 AND m.holder = e.holder
 AND m.category = e.category
 AND m.legal_basis IS NOT DISTINCT FROM e.legal_basis
GROUP BY GROUPING SETS ((m.job, e.event_type, e.from_holder, e.holder, m.grp), (e.holder, m.grp))
ORDER BY per_dataset, m.job, e.holder, m.grp, e.from_holder NULLS FIRST, e.event_type;
