-- The kept (flow, category) pairs from every event there, each with its earliest time: after
-- a rebuild's load, a migration, and forgetting (flow_subjects_fill.sql, _forget.sql).
DELETE FROM flow_categories;

INSERT INTO flow_categories
SELECT
    @FLOW_COLUMNS,
    category, min(occurred_at)
FROM (
    SELECT
        @FLOW_COLUMNS,
        occurred_at, unnest(categories) AS category
    FROM events
    WHERE event_type IN @FLOWS
)
GROUP BY ALL;
