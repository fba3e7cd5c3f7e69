-- Every observed flow of personal data up to $as_of, one row per purpose (data use), holder,
-- source holder and tool: for the Art. 30 evidence columns and the audit.
-- Transfer tools and countries are on the row so the audit can judge each tool on its dates.
-- The same rows as observed_flows_events.sql (the definition): subjects are counted from the
-- kept (flow, subject) pairs, each with its earliest event, so a plain count replaces a
-- distinct count (a hash set per flow) over every event.
WITH seen AS (
    SELECT
        event_type,
        purpose,
        legal_basis,
        holder,
        from_holder,
        role,
        country,
        mechanism,
        count(*) AS events,
        min(occurred_at) AS first_seen,
        max(occurred_at) AS last_seen,
        -- DISTINCT first: a few distinct category lists, not one entry per event.
        list_distinct(flatten(list(DISTINCT categories))) AS categories
    FROM events
    WHERE event_type IN @FLOWS
      AND occurred_at <= $as_of
    GROUP BY ALL
),
counted AS (
    SELECT
        event_type,
        purpose,
        legal_basis,
        holder,
        from_holder,
        role,
        country,
        mechanism,
        count(*) AS subjects
    FROM flow_subjects
    WHERE first_at <= $as_of
    GROUP BY ALL
)
SELECT
    s.event_type,
    s.purpose,
    s.legal_basis,
    s.holder,
    s.from_holder,
    s.role,
    s.country,
    s.mechanism,
    c.subjects,
    s.events,
    s.first_seen,
    s.last_seen,
    s.categories
FROM seen s
JOIN counted c
  ON c.event_type = s.event_type
 AND c.holder IS NOT DISTINCT FROM s.holder
 AND c.purpose IS NOT DISTINCT FROM s.purpose
 AND c.legal_basis IS NOT DISTINCT FROM s.legal_basis
 AND c.from_holder IS NOT DISTINCT FROM s.from_holder
 AND c.role IS NOT DISTINCT FROM s.role
 AND c.country IS NOT DISTINCT FROM s.country
 AND c.mechanism IS NOT DISTINCT FROM s.mechanism
-- Every grouping key, so ties never depend on the plan.
ORDER BY purpose, holder, from_holder, event_type, legal_basis, role, country, mechanism;
