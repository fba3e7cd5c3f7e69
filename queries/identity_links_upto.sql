-- Every identity link recorded up to $as_of (one direction is enough for components).
SELECT subject_ref, linked_ref
FROM identity_links
WHERE occurred_at <= $as_of AND subject_ref < linked_ref;
