-- Kept components that cannot answer as of $as_of: a later event or link (a fold as of then
-- differs), or a reference in $refs (marked, not yet folded again).
SELECT comp, refs FROM summary_comps
WHERE latest > $as_of
   OR ck IN (SELECT ck FROM summary_refs WHERE rk IN (SELECT md5_number(unnest($refs::VARCHAR[]))));
