-- The events of one subject (all its references, $refs) up to $as_of, in order.
SELECT event_type, occurred_at, subject_ref, holder, from_holder, role, country,
       mechanism, mechanism_ref, categories, purpose, legal_basis, data_subject, origin,
       retention, request_id, status, reason, at_time, detail
FROM events
WHERE subject_ref IN (SELECT unnest($refs::VARCHAR[]))
  AND occurred_at <= $as_of
  AND event_type <> 'IdentityLinked'
ORDER BY occurred_at, log_partition, log_offset;
