-- Kept components that cannot answer as of $as_of: a later event or link (a fold as of then
-- differs), or a reference in $refs (marked, not yet folded again).
SELECT comp, refs FROM summary_comps
WHERE latest > $as_of
   OR comp IN (SELECT comp FROM summary_refs WHERE ref IN (SELECT unnest($refs::VARCHAR[])));
