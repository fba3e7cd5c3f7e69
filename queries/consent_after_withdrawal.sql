-- Processing under consent after the subject withdrew that consent (and before giving it
-- again): the latest consent event at or before each flow decides.
WITH consent AS (
    SELECT subject_ref, purpose, occurred_at, event_type
    FROM events
    WHERE event_type IN ('ConsentGiven', 'ConsentWithdrawn') AND occurred_at <= $as_of
),
flows AS (
    SELECT subject_ref, purpose, holder, event_type, occurred_at
    FROM events
    WHERE event_type IN ('DataCollected', 'DataShared', 'DataTransferred')
      AND legal_basis = 'consent' AND occurred_at <= $as_of
)
SELECT f.holder, f.purpose, count(DISTINCT f.subject_ref) AS subjects, count(*) AS events,
       min(f.occurred_at) AS first_at, max(f.occurred_at) AS last_at
FROM flows f
ASOF JOIN consent c
  ON f.subject_ref = c.subject_ref AND f.purpose = c.purpose AND f.occurred_at > c.occurred_at
WHERE c.event_type = 'ConsentWithdrawn'
GROUP BY ALL
ORDER BY f.holder, f.purpose;
