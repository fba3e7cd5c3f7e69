-- Every identity link (one row per direction is enough for a graph): what the service's
-- identity graph starts from.
SELECT subject_ref, linked_ref, occurred_at
FROM identity_links
WHERE subject_ref <= linked_ref;
