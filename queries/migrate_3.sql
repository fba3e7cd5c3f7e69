-- Schema 2 -> 3: subjects forgotten after a completed erasure (see schema.sql). The table is
-- recomputed from the erasure events after every batch, so an existing projection only needs
-- it to exist: the next batch fills it.
CREATE TABLE IF NOT EXISTS forgotten_subjects (
    subject_ref  VARCHAR NOT NULL,
    request_id   VARCHAR NOT NULL,
    completed_at TIMESTAMP NOT NULL
);
