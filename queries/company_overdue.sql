-- Data held past its retention as of $as_of, per holder, from the summaries' known
-- retention ends (`ends`: one row per component, holding and category; the rulebook
-- computed each end). A subject's end at a holder is the latest of its overdue categories';
-- the examples are the first three components by reference.
SELECT o.holder, o.subjects, o.earliest, o.latest, o.examples, c.categories, u.uses, p.pids
FROM (
    SELECT holder, count(*) AS subjects, min(retain_until) AS earliest,
           max(retain_until) AS latest, min(comp, 3) AS examples
    FROM (
        SELECT holder, comp, max(retain_until) AS retain_until
        FROM ends WHERE retain_until < $as_of
        GROUP BY holder, comp
    )
    GROUP BY holder
) o
JOIN (
    SELECT holder, list(DISTINCT category) AS categories
    FROM ends WHERE retain_until < $as_of
    GROUP BY holder
) c USING (holder)
JOIN (
    SELECT holder, list(DISTINCT u) AS uses
    FROM (SELECT DISTINCT holder, uses FROM ends WHERE retain_until < $as_of), unnest(uses) AS t(u)
    GROUP BY holder
) u USING (holder)
LEFT JOIN (
    SELECT holder, list(DISTINCT p) AS pids
    FROM (SELECT DISTINCT holder, pids FROM ends WHERE retain_until < $as_of), unnest(pids) AS t(p)
    GROUP BY holder
) p USING (holder)
ORDER BY o.holder;
