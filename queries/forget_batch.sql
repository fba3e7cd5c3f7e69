-- Forgetting for a batch that leaves forgotten_subjects as it is (forget_needed.sql): every
-- older row of those subjects was dropped when they were forgotten, so only the batch's new
-- rows can match. Same rows dropped as forget.sql's DELETE, without a pass over all events.
DELETE FROM events
WHERE event_id IN (
    SELECT b.envelope.event_id::UUID
    FROM batch b
    JOIN forgotten_subjects f ON f.subject_ref = b.envelope.subject_ref
    WHERE b.envelope.occurred_at <= f.completed_at
      AND b.envelope.event_type IN @LINEAGE
);
