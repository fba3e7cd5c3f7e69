-- One decoded chunk of the log (registered as `restore_chunk`, log order), while the rows a
-- lowered cut-off gives back are looked for (Projector._restore): its lineage events of the
-- references in forget_lowered.sql, dated after the new cut-off and up to the old one.
INSERT INTO forget_restored
SELECT b.*
FROM restore_chunk b
JOIN forget_lowered l ON l.subject_ref = b.envelope.subject_ref
WHERE b.envelope.event_type IN @LINEAGE
  AND (l.new_cut IS NULL OR b.envelope.occurred_at > l.new_cut)
  AND b.envelope.occurred_at <= l.old_cut;
