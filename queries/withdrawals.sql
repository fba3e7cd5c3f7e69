-- Consent withdrawals (all, or the one with $event_id), oldest first, and whether a
-- withdrawal notice request (ErasureRequested, kind withdrawal) names it already: the
-- notices step opens one request per withdrawal, never two.
SELECT w.event_id, w.subject_ref, w.occurred_at, w.source, w.purpose,
       EXISTS (
           SELECT 1 FROM events r
           WHERE r.event_type = @REQUESTED
             AND r.detail->>'withdrawal_id' = CAST(w.event_id AS VARCHAR)
       ) AS noticed
FROM events w
WHERE w.event_type = @CONSENT_WITHDRAWN
  AND ($event_id IS NULL OR CAST(w.event_id AS VARCHAR) = $event_id)
ORDER BY w.occurred_at, w.log_partition, w.log_offset;
