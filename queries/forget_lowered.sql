-- The references whose cut-off forget.sql just lowered (forgotten_before.sql kept the old
-- ones): a completion of a request dated earlier than one recorded before it. The rows of
-- those references in (new cut-off, old cut-off] were dropped and must be there again
-- (Projector._restore). A reference cannot leave the table (completions, requests and links
-- are only ever added), but one that did would get everything up to its old cut-off back.
CREATE OR REPLACE TEMP TABLE forget_lowered AS
SELECT b.subject_ref, a.completed_at AS new_cut, b.completed_at AS old_cut
FROM forgotten_before b
LEFT JOIN (
    SELECT subject_ref, max(completed_at) AS completed_at
    FROM forgotten_subjects
    GROUP BY subject_ref
) a ON a.subject_ref = b.subject_ref
WHERE a.completed_at IS NULL OR a.completed_at < b.completed_at;

DROP TABLE forgotten_before;
