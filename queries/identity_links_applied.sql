-- The identity links of the events projected from one partition between two positions: what
-- one batch added to identity_links (the same events, already without duplicates).
SELECT subject_ref, linked_ref, occurred_at, log_offset
FROM events
WHERE log_partition = $partition AND log_offset >= $start AND log_offset < $end
  AND event_type = @IDENTITY_LINKED;
