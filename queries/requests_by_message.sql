-- The rights requests one of whose tasks went out under one of these Message-IDs
-- ($message_ids): those a delivery report that came back may be about (erasure bounces).
SELECT DISTINCT request_id
FROM events
WHERE event_type = 'ErasureTaskUpdated'
  AND detail->>'message_id' IN (SELECT unnest($message_ids::VARCHAR[]));
