-- The rows found by forget_restore.sql as a batch (the first record of an event id wins, as
-- in a batch): the projector applies it as one (apply_batch.sql, mark_dirty.sql,
-- flow_subjects_batch.sql), so the events table, the summaries' dirty marks and the kept
-- flow pairs take them back as if they had never been dropped.
CREATE OR REPLACE TEMP TABLE batch AS
SELECT *
FROM forget_restored
QUALIFY row_number() OVER (PARTITION BY envelope.event_id ORDER BY log_partition, log_offset) = 1;

-- An event given back whose repeat (a later record of its id) was projected after the first
-- was dropped holds the repeat's position: the first record wins, as in a replay.
DELETE FROM events
USING batch b
WHERE events.event_id = b.envelope.event_id::UUID
  AND (
      events.log_partition > b.log_partition
      OR (events.log_partition = b.log_partition AND events.log_offset > b.log_offset)
  );

DROP TABLE forget_restored;

DROP TABLE forget_lowered;
