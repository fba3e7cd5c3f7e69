-- One hop of the identity graph from many references at once: the links of the references
-- in $refs recorded up to $as_of (lineage.services.subjects.linked, for the components of
-- some references only: the caller asks again for the references it reached).
SELECT subject_ref, linked_ref, occurred_at
FROM identity_links
WHERE occurred_at <= $as_of AND subject_ref IN (SELECT unnest($refs::VARCHAR[]));
