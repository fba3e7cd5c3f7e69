-- The (data use, holder) pairs that events name, up to $as_of.
SELECT DISTINCT purpose, holder
FROM events
WHERE event_type IN ('DataCollected', 'DataShared', 'DataTransferred')
  AND purpose IS NOT NULL AND occurred_at <= $as_of;
