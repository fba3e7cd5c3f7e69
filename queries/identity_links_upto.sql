-- Every identity link recorded up to $as_of, with when (one direction is enough for components).
SELECT subject_ref, linked_ref, occurred_at
FROM identity_links
WHERE occurred_at <= $as_of AND subject_ref < linked_ref;
