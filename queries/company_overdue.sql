-- Data held past its retention as of $as_of, per holder, from the summaries: `holdings`
-- (one row per component and holder with a known end, and its earliest: the subject is
-- overdue there once that has passed) and `ends` (each category's known end, as the
-- rulebook computed it; uses and catalog purposes as JSON lists). Earliest and latest are
-- the ends passed; the examples are the first three components by reference.
SELECT h.holder, h.subjects, h.examples, e.earliest, e.latest, e.categories, e.uses, e.pids
FROM (
    SELECT holder, count(*) AS subjects, min(comp, 3) AS examples
    FROM holdings WHERE first_end < $as_of
    GROUP BY holder
) h
JOIN (
    SELECT holder, min(retain_until) AS earliest, max(retain_until) AS latest,
           list(DISTINCT category) AS categories, list(DISTINCT uses) AS uses,
           list(DISTINCT pids) AS pids
    FROM ends WHERE retain_until < $as_of
    GROUP BY holder
) e USING (holder)
ORDER BY h.holder;
