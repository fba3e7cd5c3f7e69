-- The events of rights requests: all of them, or those of one request ($request_id), or
-- those of one subject's references ($refs), in order.
SELECT event_type, occurred_at, subject_ref, holder, categories, request_id, status, reason,
       at_time, detail, purpose
FROM events
WHERE event_type IN @REQUESTS
  AND ($request_id IS NULL OR request_id = $request_id)
  AND ($refs IS NULL OR subject_ref IN (SELECT unnest($refs::VARCHAR[])))
ORDER BY occurred_at, log_partition, log_offset;
