-- Breach impact: what was at holder $holder at time $at (naive UTC). One row per subject and
-- category held there then, with the purpose and legal basis it was received under.
-- Subjects are identity components (several references of one person count once, under the
-- smallest reference). A DataErased at the holder removes the categories it names (all when
-- none) that were received before it.
WITH RECURSIVE received AS (
    SELECT subject_ref, unnest(categories) AS category, occurred_at, purpose, legal_basis
    FROM events
    WHERE holder = $holder
      AND event_type IN ('DataCollected', 'DataShared', 'DataTransferred')
      AND occurred_at <= $at
),
erasures AS (
    SELECT subject_ref, categories, occurred_at
    FROM events
    WHERE holder = $holder AND event_type = 'DataErased' AND occurred_at <= $at
),
refs AS (
    SELECT DISTINCT subject_ref AS ref FROM received
    UNION
    SELECT DISTINCT subject_ref FROM erasures
),
reach(ref, other) AS (
    SELECT ref, ref FROM refs
    UNION
    SELECT r.ref, l.linked_ref
    FROM reach r JOIN identity_links l ON l.subject_ref = r.other
    WHERE l.occurred_at <= $at
),
canon AS (SELECT ref, min(other) AS subject FROM reach GROUP BY ref),
held AS (
    SELECT c.subject, r.category, r.purpose, r.legal_basis
    FROM received r JOIN canon c ON c.ref = r.subject_ref
    WHERE NOT EXISTS (
        SELECT 1
        FROM erasures e JOIN canon ce ON ce.ref = e.subject_ref
        WHERE ce.subject = c.subject
          AND e.occurred_at >= r.occurred_at
          AND (len(e.categories) = 0 OR list_contains(e.categories, r.category))
    )
)
SELECT DISTINCT subject, category, purpose, legal_basis FROM held
ORDER BY subject, category, purpose, legal_basis;
