-- The events of one subject reference ($ref), for who-has. Only the equality filter: DuckDB
-- answers it from the events_subject index, and any further predicate (on time or type) turns
-- the plan back into a scan of every event. The caller filters by time and type and orders by
-- (occurred_at, log_partition, log_offset).
SELECT event_type, occurred_at, subject_ref, holder, from_holder, role, country,
       mechanism, mechanism_ref, categories, purpose, legal_basis, data_subject, origin,
       retention, request_id, status, reason, at_time, detail, log_partition, log_offset
FROM events
WHERE subject_ref = $ref;
