-- Apply one decoded batch (registered as `batch`: one column per Avro field of any event
-- type, envelope nested; no duplicate event ids inside it). Skips events already projected.
-- Runs inside the projector's transaction. Links first: they need to know what is new.
-- The batch's ids already projected, found with the batch as the join's build side: an anti
-- join of the batch against `events` builds a hash table of every projected id instead, for
-- every statement (memory and time growing with the table: a 10M-event rebuild ran out of
-- its memory limit there).
CREATE OR REPLACE TEMP TABLE batch_present AS
SELECT e.event_id
FROM events e
WHERE e.event_id IN (SELECT b.envelope.event_id::UUID FROM batch b);

INSERT INTO identity_links
SELECT b.envelope.subject_ref, b.linked_ref, b.envelope.occurred_at
FROM batch b ANTI JOIN batch_present p ON p.event_id = b.envelope.event_id::UUID
WHERE b.envelope.event_type = @IDENTITY_LINKED
UNION ALL
SELECT b.linked_ref, b.envelope.subject_ref, b.envelope.occurred_at
FROM batch b ANTI JOIN batch_present p ON p.event_id = b.envelope.event_id::UUID
WHERE b.envelope.event_type = @IDENTITY_LINKED;

-- The columns come from the event definitions (lineage.projection.columns).
INSERT INTO events
SELECT
    @EVENT_COLUMNS
FROM batch b
ANTI JOIN batch_present p ON p.event_id = b.envelope.event_id::UUID;

DROP TABLE batch_present;
