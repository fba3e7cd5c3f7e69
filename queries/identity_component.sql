-- Every subject reference linked, directly or through others, to the given ones ($refs),
-- by links recorded up to $as_of: the identity graph's connected component.
WITH RECURSIVE component(ref) AS (
    SELECT unnest($refs::VARCHAR[])
    UNION
    SELECT l.linked_ref
    FROM identity_links l
    JOIN component c ON l.subject_ref = c.ref
    WHERE l.occurred_at <= $as_of
)
SELECT ref FROM component ORDER BY ref;
