-- Mark every reference of the projection (a new catalog or rulebook: no kept summary holds),
-- in the transaction that empties the summaries (lineage.services.company.restart).
INSERT INTO dirty_refs
SELECT DISTINCT ref FROM (
    SELECT subject_ref AS ref FROM events
    UNION ALL
    SELECT subject_ref FROM identity_links
    UNION ALL
    SELECT linked_ref FROM identity_links
);
