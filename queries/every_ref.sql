-- Every reference of the projection: what a new catalog or rulebook marks to be folded again
-- (lineage.services.company.restart), in the transaction that empties the summaries.
SELECT DISTINCT ref FROM (
    SELECT subject_ref AS ref FROM events
    UNION ALL
    SELECT subject_ref FROM identity_links
    UNION ALL
    SELECT linked_ref FROM identity_links
)
