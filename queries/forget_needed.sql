-- Whether the batch (registered as `batch`, already applied) can change which subjects are
-- forgotten (queries/forget.sql): a completion, a request whose completion may be recorded
-- already, or an identity link that touches a forgotten subject. When it cannot, only the
-- batch's own rows need forgetting (forget_batch.sql): recomputing every completed erasure
-- after every batch made a rebuild's cost grow with the square of the events.
SELECT
    EXISTS (SELECT 1 FROM batch b WHERE b.envelope.event_type = @COMPLETED)
    OR (
        EXISTS (SELECT 1 FROM batch b WHERE b.envelope.event_type = @REQUESTED)
        AND EXISTS (SELECT 1 FROM events WHERE event_type = @COMPLETED)
    )
    OR EXISTS (
        SELECT 1
        FROM batch b
        JOIN forgotten_subjects f ON f.subject_ref = b.envelope.subject_ref
        WHERE b.envelope.event_type = @IDENTITY_LINKED
        UNION ALL
        SELECT 1
        FROM batch b
        JOIN forgotten_subjects f ON f.subject_ref = b.linked_ref
        WHERE b.envelope.event_type = @IDENTITY_LINKED
    );
