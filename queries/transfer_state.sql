-- Where each subject's data went outside its holder, judged on the latest move per subject
-- and recipient (a transfer re-papered under a new tool replaces the old one), up to $as_of.
-- A DataTransferred outranks a later DataShared without a tool to the same recipient.
WITH latest AS (
    SELECT subject_ref, holder, purpose, from_holder, country, mechanism, occurred_at
    FROM events
    WHERE event_type IN ('DataShared', 'DataTransferred')
      AND country IS NOT NULL AND occurred_at <= $as_of
    QUALIFY row_number() OVER (
        PARTITION BY subject_ref, holder
        ORDER BY event_type = 'DataTransferred' DESC, occurred_at DESC,
                 log_partition DESC, log_offset DESC
    ) = 1
)
-- Data erased at the recipient after its latest move is no longer there to be transferred.
SELECT l.holder, l.purpose, l.from_holder, l.country, l.mechanism,
       count(DISTINCT l.subject_ref) AS subjects, count(*) AS events,
       min(l.occurred_at) AS first_seen, max(l.occurred_at) AS last_seen
FROM latest l
WHERE NOT EXISTS (
    SELECT 1 FROM events x
    WHERE x.event_type = 'DataErased' AND x.subject_ref = l.subject_ref
      AND x.holder = l.holder AND x.occurred_at > l.occurred_at AND x.occurred_at <= $as_of
)
GROUP BY ALL
ORDER BY holder, purpose, mechanism;
