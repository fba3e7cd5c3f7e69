-- Every observed flow of personal data up to $as_of, one row per purpose (data use), holder,
-- source holder and tool: for the Art. 30 evidence columns and the audit.
-- Transfer tools and countries are on the row so the audit can judge each tool on its dates.
-- The definition, from the events alone: for a projection without kept flow subjects
-- (shards seen as one, an older file opened read-only). observed_flows.sql gives the same
-- rows from the kept pairs.
SELECT
    @FLOW_COLUMNS,
    count(DISTINCT subject_ref) AS subjects,
    count(*) AS events,
    min(occurred_at) AS first_seen,
    max(occurred_at) AS last_seen,
    -- DISTINCT first: a few distinct category lists, not one entry per event.
    list_distinct(flatten(list(DISTINCT categories))) AS categories
FROM events
WHERE event_type IN @FLOWS
  AND occurred_at <= $as_of
GROUP BY ALL
-- Every grouping key, so ties never depend on the plan.
ORDER BY purpose, holder, from_holder, event_type, legal_basis, role, country, mechanism;
