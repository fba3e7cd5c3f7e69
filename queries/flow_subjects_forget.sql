-- After forget.sql dropped rows of forgotten subjects: their pairs again, from the events
-- left (data collected again after a completed erasure stays); then the flows' categories
-- from every event again, flow_categories_fill.sql (a few rows; which flows lost a category
-- is not known here).
DELETE FROM flow_subjects
WHERE subject_ref IN (SELECT subject_ref FROM forgotten_subjects);

INSERT INTO flow_subjects
SELECT *, @PAIR_KEY
FROM (
    SELECT
        @FLOW_COLUMNS,
        subject_ref, min(occurred_at) AS first_at
    FROM events
    WHERE event_type IN @FLOWS
      AND subject_ref IN (SELECT subject_ref FROM forgotten_subjects)
    GROUP BY ALL
);
