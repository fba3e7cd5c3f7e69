-- Mark the references a batch touches (its subjects, and both sides of its identity links),
-- in the projector's transaction: their components' kept summaries no longer hold
-- (lineage.services.company). Forgetting drops rows of the completing subject's component,
-- which its ErasureCompleted event marks.
INSERT INTO dirty_refs
SELECT DISTINCT ref FROM (
    SELECT b.envelope.subject_ref AS ref FROM batch b
    UNION ALL
    SELECT b.linked_ref FROM batch b WHERE b.linked_ref IS NOT NULL
);
