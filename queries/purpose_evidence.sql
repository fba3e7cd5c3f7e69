-- Evidence per catalog purpose: subjects observed, first and last seen, recipients observed.
-- purpose_map(purpose, holder, pid) is registered by the caller: it says which catalog
-- purpose(s) the events of a data use at a holder belong to.
SELECT
    m.pid,
    count(DISTINCT e.subject_ref) AS subjects,
    min(e.occurred_at) AS first_seen,
    max(e.occurred_at) AS last_seen,
    list_sort(list_distinct(list(e.holder) FILTER (WHERE e.event_type <> 'DataCollected')))
        AS recipients
FROM events e
JOIN purpose_map m ON m.purpose = e.purpose AND m.holder = e.holder
WHERE e.event_type IN ('DataCollected', 'DataShared', 'DataTransferred')
  AND e.occurred_at <= $as_of
GROUP BY m.pid;
