-- Schema 3 -> 4: a fingerprint of the last applied record beside each position (see
-- lineage/projection/position.py). Existing rows have none until their next batch.
ALTER TABLE log_positions ADD COLUMN IF NOT EXISTS last_offset BIGINT;
ALTER TABLE log_positions ADD COLUMN IF NOT EXISTS last_crc BIGINT;
