-- Where each subject's data went outside its holder, judged on the latest move per subject
-- and recipient (a transfer re-papered under a new tool replaces the old one), up to $as_of.
-- A DataTransferred outranks a later DataShared without a tool to the same recipient.
WITH latest AS (
    -- arg_max over a hash aggregate: the same row a sorted window would pick, much cheaper.
    SELECT subject_ref, holder, m.purpose, m.from_holder, m.country, m.mechanism, m.occurred_at
    FROM (
        SELECT subject_ref, holder,
               arg_max(
                   {'purpose': purpose, 'from_holder': from_holder, 'country': country,
                    'mechanism': mechanism, 'occurred_at': occurred_at},
                   {'transferred': event_type = 'DataTransferred', 'at': occurred_at,
                    'partition': log_partition, 'offset': log_offset}
               ) AS m
        FROM events
        WHERE event_type IN ('DataShared', 'DataTransferred')
          AND country IS NOT NULL AND occurred_at <= $as_of
        GROUP BY subject_ref, holder
    )
)
-- Data erased at the recipient after its latest move is no longer there to be transferred.
-- Per day of the move, too: a tool's validity depends on the date it was relied on, and one
-- early move must not taint every later one. (Each subject has one latest move per holder,
-- so subjects add up across days.)
SELECT l.holder, l.purpose, l.from_holder, l.country, l.mechanism,
       l.occurred_at::DATE AS day,
       count(DISTINCT l.subject_ref) AS subjects, count(*) AS events,
       min(l.occurred_at) AS first_seen, max(l.occurred_at) AS last_seen
FROM latest l
WHERE NOT EXISTS (
    SELECT 1 FROM events x
    WHERE x.event_type = 'DataErased' AND x.subject_ref = l.subject_ref
      AND x.holder = l.holder AND x.occurred_at > l.occurred_at AND x.occurred_at <= $as_of
)
GROUP BY ALL
ORDER BY holder, purpose, mechanism, day;
