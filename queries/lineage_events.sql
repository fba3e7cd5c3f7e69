-- The lineage events of every subject (or of the references in $refs) up to $as_of, for the
-- rulebook's fold: the columns it reads (every row becomes a Python object: fewer columns,
-- less time), ordered by subject, then time, then log position (the order a fold needs).
-- $refs_from / $refs_below (NULL: no bound): only references in that range, so that a read
-- of every subject can be made range by range, each sorted on its own.
SELECT event_type, occurred_at, subject_ref, holder, from_holder, role, country,
       mechanism, mechanism_ref, categories, purpose, legal_basis, origin, retention,
       log_partition, log_offset
FROM events
WHERE event_type IN @LINEAGE
  AND occurred_at <= $as_of
  AND ($refs IS NULL OR subject_ref IN (SELECT unnest($refs::VARCHAR[])))
  AND ($refs_from IS NULL OR subject_ref >= $refs_from)
  AND ($refs_below IS NULL OR subject_ref < $refs_below)
ORDER BY subject_ref, occurred_at, log_partition, log_offset;
