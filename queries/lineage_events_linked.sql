-- The lineage events of references in identity components up to $as_of, for the fold of
-- every component (lineage.services.company), in a pass of their own: $refs names each
-- reference and $comps, at the same place, its component's first reference (comp_key).
-- Ordered by component, then as lineage_events.sql orders them: a component's rows follow
-- each other, each reference's in the order a fold needs.
SELECT e.event_type, e.occurred_at, e.subject_ref, e.holder, e.from_holder, e.role,
       e.country, e.mechanism, e.mechanism_ref, e.categories, e.purpose, e.legal_basis,
       e.origin, e.retention, e.log_partition, e.log_offset, m.comp_key
FROM events e
JOIN (SELECT unnest($refs::VARCHAR[]) AS ref, unnest($comps::VARCHAR[]) AS comp_key) m
  ON e.subject_ref = m.ref
WHERE e.event_type IN @LINEAGE
  AND e.occurred_at <= $as_of
ORDER BY m.comp_key, e.subject_ref, e.occurred_at, e.log_partition, e.log_offset;
