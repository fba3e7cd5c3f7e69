-- Every observed flow of personal data up to $as_of, one row per purpose (data use), holder,
-- source holder and tool: for the Art. 30 evidence columns and the audit.
-- Transfer tools and countries are on the row so the audit can judge each tool on its dates.
-- The same rows as observed_flows_events.sql (the definition): subjects are counted from the
-- kept (flow, subject) pairs, each with its earliest event, so a plain count replaces a
-- distinct count (a hash set per flow) over every event; categories come from the kept
-- (flow, category) pairs instead of a set of category lists per flow.
WITH seen AS (
    SELECT
        @FLOW_COLUMNS,
        count(*) AS events,
        min(occurred_at) AS first_seen,
        max(occurred_at) AS last_seen
    FROM events
    WHERE event_type IN @FLOWS
      AND occurred_at <= $as_of
    GROUP BY ALL
),
counted AS (
    SELECT
        @FLOW_COLUMNS,
        count(*) AS subjects
    FROM flow_subjects
    WHERE first_at <= $as_of
    GROUP BY ALL
),
listed AS (
    SELECT
        @FLOW_COLUMNS,
        list(category) AS categories
    FROM flow_categories
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
    coalesce(l.categories, []) AS categories
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
LEFT JOIN listed l
  ON l.event_type = s.event_type
 AND l.holder IS NOT DISTINCT FROM s.holder
 AND l.purpose IS NOT DISTINCT FROM s.purpose
 AND l.legal_basis IS NOT DISTINCT FROM s.legal_basis
 AND l.from_holder IS NOT DISTINCT FROM s.from_holder
 AND l.role IS NOT DISTINCT FROM s.role
 AND l.country IS NOT DISTINCT FROM s.country
 AND l.mechanism IS NOT DISTINCT FROM s.mechanism
-- Every grouping key, so ties never depend on the plan.
ORDER BY purpose, holder, from_holder, event_type, legal_basis, role, country, mechanism;
