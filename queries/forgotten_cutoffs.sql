-- Per forgotten subject reference, the latest cut-off: lineage events of that reference that
-- occurred up to then are dropped by `lineage log compact`.
SELECT subject_ref, max(completed_at) AS completed_at
FROM forgotten_subjects
GROUP BY subject_ref;
