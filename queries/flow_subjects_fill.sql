-- The kept (flow, subject) pairs from every event there: after a rebuild's load, and when an
-- older projection is migrated (then flow_categories_fill.sql). The definition the per-batch
-- upkeep maintains.
DELETE FROM flow_subjects;

INSERT INTO flow_subjects
SELECT *, @PAIR_KEY
FROM (
    SELECT
        @FLOW_COLUMNS,
        subject_ref, min(occurred_at) AS first_at
    FROM events
    WHERE event_type IN @FLOWS
    GROUP BY ALL
);
