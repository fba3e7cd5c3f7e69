-- Apply one decoded batch (registered as `batch`: one column per Avro field of any event
-- type, envelope nested; no duplicate event ids inside it). Skips events already projected.
-- Runs inside the projector's transaction. Links first: they need to know what is new.
INSERT INTO identity_links
SELECT b.envelope.subject_ref, b.linked_ref, b.envelope.occurred_at
FROM batch b ANTI JOIN events e ON e.event_id = b.envelope.event_id::UUID
WHERE b.envelope.event_type = @IDENTITY_LINKED
UNION ALL
SELECT b.linked_ref, b.envelope.subject_ref, b.envelope.occurred_at
FROM batch b ANTI JOIN events e ON e.event_id = b.envelope.event_id::UUID
WHERE b.envelope.event_type = @IDENTITY_LINKED;

-- The columns come from the event definitions (lineage.projection.columns).
INSERT INTO events
SELECT
    @EVENT_COLUMNS
FROM batch b
ANTI JOIN events e ON e.event_id = b.envelope.event_id::UUID;
