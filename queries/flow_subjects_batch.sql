-- Keep the (flow, subject) and (flow, category) pairs of a batch (registered as `batch`,
-- applied and forgotten already), in the projector's transaction. They come from the rows
-- `events` holds for its ids (the column mapping applied, forgotten rows gone). Only the rows
-- the batch added are read: an event projected before gives pairs already kept, so a repeat
-- (its row at an earlier offset) changes nothing. The offset bound lets DuckDB skip every
-- row group written before the batch (their offsets are lower), instead of reading the ids
-- of every event for each batch. The batch's pairs are the join's build side throughout:
-- `flow_subjects` is only probed, by pair_key.
CREATE OR REPLACE TEMP TABLE batch_flows AS
SELECT
    @FLOW_COLUMNS,
    subject_ref, occurred_at, categories
FROM events
WHERE event_id IN (SELECT b.envelope.event_id::UUID FROM batch b)
  AND log_offset >= (SELECT min(b.log_offset) FROM batch b)
  AND event_type IN @FLOWS;

CREATE OR REPLACE TEMP TABLE batch_pairs AS
SELECT *, @PAIR_KEY AS pair_key
FROM (
    SELECT
        @FLOW_COLUMNS,
        subject_ref, min(occurred_at) AS first_at
    FROM batch_flows
    GROUP BY ALL
);

-- The batch's pairs already kept, each with its row and its kept time: only the narrow
-- pair_key column of every kept pair is read.
CREATE OR REPLACE TEMP TABLE batch_kept AS
SELECT f.kept_row, f.kept_at, b.*
FROM (
    SELECT rowid AS kept_row, first_at AS kept_at, pair_key
    FROM flow_subjects
    WHERE pair_key IN (SELECT pair_key FROM batch_pairs)
) f
JOIN batch_pairs b ON f.pair_key = b.pair_key;

-- An event older than a kept pair's earliest (recorded late) moves that pair's time back.
UPDATE flow_subjects
SET first_at = k.first_at
FROM batch_kept k
WHERE flow_subjects.rowid = k.kept_row
  AND k.first_at < k.kept_at;

INSERT INTO flow_subjects
SELECT b.*
FROM batch_pairs b
ANTI JOIN batch_kept k ON k.pair_key = b.pair_key;

DROP TABLE batch_pairs;

DROP TABLE batch_kept;

-- The batch's (flow, category) pairs the same way (a few rows: any join side will do).
CREATE OR REPLACE TEMP TABLE batch_categories AS
SELECT
    @FLOW_COLUMNS,
    category, min(occurred_at) AS first_at
FROM (
    SELECT
        @FLOW_COLUMNS,
        occurred_at, unnest(categories) AS category
    FROM batch_flows
)
GROUP BY ALL;

UPDATE flow_categories f
SET first_at = b.first_at
FROM batch_categories b
WHERE f.category = b.category
  AND f.event_type = b.event_type
  AND f.purpose IS NOT DISTINCT FROM b.purpose
  AND f.legal_basis IS NOT DISTINCT FROM b.legal_basis
  AND f.holder IS NOT DISTINCT FROM b.holder
  AND f.from_holder IS NOT DISTINCT FROM b.from_holder
  AND f.role IS NOT DISTINCT FROM b.role
  AND f.country IS NOT DISTINCT FROM b.country
  AND f.mechanism IS NOT DISTINCT FROM b.mechanism
  AND b.first_at < f.first_at;

INSERT INTO flow_categories
SELECT b.*
FROM batch_categories b
ANTI JOIN flow_categories f
  ON f.category = b.category
 AND f.event_type = b.event_type
 AND f.purpose IS NOT DISTINCT FROM b.purpose
 AND f.legal_basis IS NOT DISTINCT FROM b.legal_basis
 AND f.holder IS NOT DISTINCT FROM b.holder
 AND f.from_holder IS NOT DISTINCT FROM b.from_holder
 AND f.role IS NOT DISTINCT FROM b.role
 AND f.country IS NOT DISTINCT FROM b.country
 AND f.mechanism IS NOT DISTINCT FROM b.mechanism;

DROP TABLE batch_categories;

DROP TABLE batch_flows;
