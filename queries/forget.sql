-- Forgetting, run in the projector's transaction after every batch. When a whole-subject
-- erasure request is completed (ErasureCompleted), the projection keeps only its
-- accountability record (the erasure events and identity links, which hold no categories
-- held or holders beyond the tasks) and drops every lineage row of the subject's identity
-- component that occurred up to the completion. Data collected again later is new data
-- and stays. A request's cut-off is its earliest completion; a reference's, the latest of
-- its requests' (a link may add requests of another component). Requests, completions and
-- links only grow in number, so a cut-off grows, except when a completion dated earlier than
-- one recorded before it arrives: then it goes down, and rows this DELETE dropped under the
-- higher one must stay. The projector compares the cut-offs before and after
-- (forget_before.sql, forget_lowered.sql) and reads those rows back from the log
-- (Projector._restore), so a projection kept batch by batch is the one a replay gives.
DELETE FROM forgotten_subjects;

INSERT INTO forgotten_subjects
WITH RECURSIVE done(request_id, subject_ref, completed_at) AS (
    SELECT c.request_id, c.subject_ref, min(c.occurred_at)
    FROM events c
    JOIN events r ON r.request_id = c.request_id AND r.event_type = @REQUESTED
    WHERE c.event_type = @COMPLETED
      AND coalesce(r.detail->>'kind', 'erasure') = 'erasure'
      AND len(coalesce(r.categories, [])) = 0
    GROUP BY c.request_id, c.subject_ref
),
component(request_id, completed_at, ref) AS (
    SELECT request_id, completed_at, subject_ref FROM done
    UNION
    SELECT c.request_id, c.completed_at, l.linked_ref
    FROM identity_links l JOIN component c ON l.subject_ref = c.ref
)
SELECT ref, request_id, completed_at FROM component;

DELETE FROM events
USING forgotten_subjects f
WHERE events.subject_ref = f.subject_ref
  AND events.occurred_at <= f.completed_at
  AND events.event_type IN @LINEAGE;
