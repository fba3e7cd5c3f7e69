-- Evidence per catalog purpose: subjects observed, first and last seen, recipients observed.
-- purpose_map(purpose, holder, category, pid) is registered by the caller: which catalog
-- purpose(s) a category received under a data use at a holder belongs to (the rulebook's
-- matching, with the hierarchy; only purposes that declare the category).
WITH received AS (
    SELECT subject_ref, event_type, purpose, holder, occurred_at, unnest(categories) AS category
    FROM events
    WHERE event_type IN @FLOWS AND occurred_at <= $as_of
)
SELECT
    m.pid,
    count(DISTINCT e.subject_ref) AS subjects,
    min(e.occurred_at) AS first_seen,
    max(e.occurred_at) AS last_seen,
    list_sort(list_distinct(list(e.holder) FILTER (WHERE e.event_type <> @COLLECTED)))
        AS recipients
FROM received e
JOIN purpose_map m
  ON m.purpose = e.purpose AND m.holder = e.holder AND m.category = e.category
GROUP BY m.pid;
