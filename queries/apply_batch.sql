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

INSERT INTO events
SELECT
    b.envelope.event_id::UUID,
    b.envelope.event_type,
    b.envelope.occurred_at,
    b.envelope.recorded_at,
    b.envelope.source,
    b.envelope.subject_ref,
    b.envelope.schema_version,
    b.log_partition,
    b.log_offset,
    coalesce(b.categories, b.scope),
    coalesce(b.system, b.recipient, b.holder),
    b.from_holder,
    CASE WHEN b.envelope.event_type = @COLLECTED THEN 'controller' ELSE b.recipient_role END,
    coalesce(b.recipient_country, b.destination_country),
    b.mechanism,
    b.mechanism_ref,
    b.purpose,
    b.legal_basis,
    b.data_subject,
    b.origin,
    b.retention,
    b.linked_ref,
    b.request_id,
    b.status,
    b.reason,
    coalesce(b.received_at, b.retain_until, b.deadline),
    CASE
        WHEN b.envelope.event_type IN (@REQUESTED, @TASK_UPDATED) THEN
            json_object('kind', b.kind, 'action', b.action, 'executor', b.executor,
                        'attempt', b.attempt, 'note', b.note)::VARCHAR
        WHEN b.evidence IS NULL AND b.duration IS NULL AND b.runs_from IS NULL
             AND b.digest IS NULL AND b.summary IS NULL THEN NULL
        ELSE json_object('evidence', b.evidence, 'duration', b.duration,
                         'runs_from', b.runs_from, 'digest', b.digest, 'summary', b.summary)::VARCHAR
    END
FROM batch b
ANTI JOIN events e ON e.event_id = b.envelope.event_id::UUID;
