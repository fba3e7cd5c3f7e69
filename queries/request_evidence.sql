-- Every event of one rights request ($request_id) with its place in the log, in log order:
-- the evidence bundle of `lineage erasure evidence`.
SELECT event_id::VARCHAR AS event_id, event_type, occurred_at, recorded_at, source,
       subject_ref, schema_version, holder, categories, status, reason, at_time, detail,
       log_partition, log_offset
FROM events
WHERE request_id = $request_id
ORDER BY log_partition, log_offset;
