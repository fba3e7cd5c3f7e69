-- The projection's tables. Every time is TIMESTAMP in UTC.
-- Applied by lineage.projection.store when schema_version in meta is older.

CREATE TABLE IF NOT EXISTS meta (
    key   VARCHAR PRIMARY KEY,
    value VARCHAR NOT NULL
);

-- How far the projection has read, per log partition. Written in the same transaction as the
-- rows derived from the events before that position.
-- last_offset and last_crc fingerprint the last applied record: the projection checks that
-- the log still holds it there before resuming (lineage/projection/position.py).
CREATE TABLE IF NOT EXISTS log_positions (
    log_partition INTEGER PRIMARY KEY,
    next_offset   BIGINT NOT NULL,
    last_offset   BIGINT,
    last_crc      BIGINT
);

-- One row per event; columns are the union of the event types' fields.
-- holder: system (DataCollected), recipient (DataShared, DataTransferred),
--         holder (DataErased, ErasureTaskUpdated).
CREATE TABLE IF NOT EXISTS events (
    event_id       UUID NOT NULL,
    event_type     VARCHAR NOT NULL,
    occurred_at    TIMESTAMP NOT NULL,
    recorded_at    TIMESTAMP NOT NULL,
    source         VARCHAR NOT NULL,
    subject_ref    VARCHAR NOT NULL,
    schema_version INTEGER NOT NULL,
    log_partition  INTEGER NOT NULL,
    log_offset     BIGINT NOT NULL,
    categories     VARCHAR[],
    holder         VARCHAR,
    from_holder    VARCHAR,
    role           VARCHAR,
    country        VARCHAR,
    mechanism      VARCHAR,
    mechanism_ref  VARCHAR,
    purpose        VARCHAR,
    legal_basis    VARCHAR,
    data_subject   VARCHAR,
    origin         VARCHAR,
    retention      VARCHAR,
    linked_ref     VARCHAR,
    request_id     VARCHAR,
    status         VARCHAR,
    reason         VARCHAR,
    at_time        TIMESTAMP,  -- received_at (ErasureRequested), retain_until (ErasureTaskUpdated),
                               -- deadline (ErasureExtended)
    detail         VARCHAR     -- JSON of the remaining fields (evidence, duration, kind, action,
                               -- executor, attempt, note, ...)
);

-- Both directions of every identity link, for one-hop lookups.
CREATE TABLE IF NOT EXISTS identity_links (
    subject_ref VARCHAR NOT NULL,
    linked_ref  VARCHAR NOT NULL,
    occurred_at TIMESTAMP NOT NULL
);

-- The per-subject lookup indexes are in indexes.sql: a rebuild creates them after loading.

-- Records that could not become events: failed checksum, undecodable, invalid.
CREATE TABLE IF NOT EXISTS quarantine (
    log_partition INTEGER NOT NULL,
    log_offset    BIGINT NOT NULL,
    next_offset   BIGINT NOT NULL,
    reason        VARCHAR NOT NULL,
    payload       BLOB,
    seen_at       TIMESTAMP NOT NULL
);

-- Subject references whose lineage was forgotten after a completed whole-subject erasure,
-- with the cut-off: lineage rows that occurred up to then are gone. Recomputed from the
-- erasure events after every batch (queries/forget.sql), so a rebuild gives the same table;
-- a recomputation that lowers a cut-off gives rows back from the log.
CREATE TABLE IF NOT EXISTS forgotten_subjects (
    subject_ref  VARCHAR NOT NULL,
    request_id   VARCHAR NOT NULL,
    completed_at TIMESTAMP NOT NULL
);

-- Kept per-component summaries for the company-wide answers, and the references changed
-- since they were folded (lineage.services.company; queries/mark_dirty.sql).
CREATE TABLE IF NOT EXISTS summary_comps (
    comp   VARCHAR NOT NULL,
    refs   VARCHAR[] NOT NULL,
    latest TIMESTAMP NOT NULL,
    ck     UHUGEINT NOT NULL  -- md5_number(comp): deletes and skips compare integers
);
-- Each reference of a kept component (the lookup for marked references).
CREATE TABLE IF NOT EXISTS summary_refs (
    comp VARCHAR NOT NULL,
    ref  VARCHAR NOT NULL,
    ck   UHUGEINT NOT NULL,  -- md5_number(comp)
    rk   UHUGEINT NOT NULL   -- md5_number(ref): the lookup of marked references
);
-- Each holding with a known retention end, with its earliest: overdue once that passed.
CREATE TABLE IF NOT EXISTS summary_holdings (
    comp      VARCHAR NOT NULL,
    holder    VARCHAR NOT NULL,
    first_end TIMESTAMP NOT NULL,
    ck        UHUGEINT NOT NULL
);
CREATE TABLE IF NOT EXISTS summary_ends (
    comp         VARCHAR NOT NULL,
    holder       VARCHAR NOT NULL,
    category     VARCHAR NOT NULL,
    retain_until TIMESTAMP NOT NULL,
    uses         VARCHAR NOT NULL,  -- JSON lists: data uses, catalog purposes
    pids         VARCHAR NOT NULL,
    ck           UHUGEINT NOT NULL
);
CREATE TABLE IF NOT EXISTS summary_moves (
    comp        VARCHAR NOT NULL,
    holder      VARCHAR NOT NULL,
    purpose     VARCHAR,
    from_holder VARCHAR,
    country     VARCHAR NOT NULL,
    mechanism   VARCHAR NOT NULL,
    moved_at    TIMESTAMP NOT NULL,
    ck          UHUGEINT NOT NULL
);
CREATE TABLE IF NOT EXISTS summary_breaches (
    comp      VARCHAR NOT NULL,
    holder    VARCHAR NOT NULL,
    purpose   VARCHAR NOT NULL,
    breach_at TIMESTAMP NOT NULL,
    ck        UHUGEINT NOT NULL
);
CREATE TABLE IF NOT EXISTS dirty_refs (
    ref VARCHAR NOT NULL
);

-- Each observed flow's subjects (queries/observed_flows.sql): one row per distinct flow
-- (the grouping columns of observed_flows_events.sql) and subject, with the earliest time
-- the subject's data took that flow. Kept in each batch's transaction
-- (flow_subjects_batch.sql), after forgetting (flow_subjects_forget.sql); a rebuild fills it
-- once after the load (flow_subjects_fill.sql).
CREATE TABLE IF NOT EXISTS flow_subjects (
    event_type  VARCHAR NOT NULL,
    purpose     VARCHAR,
    legal_basis VARCHAR,
    holder      VARCHAR,
    from_holder VARCHAR,
    role        VARCHAR,
    country     VARCHAR,
    mechanism   VARCHAR,
    subject_ref VARCHAR NOT NULL,
    first_at    TIMESTAMP NOT NULL,
    pair_key    UHUGEINT NOT NULL   -- PAIR_KEY of the columns above (lineage.projection.queries)
);
-- Each observed flow's categories, with the earliest time data of that category took it:
-- a few rows per flow. Kept beside flow_subjects (flow_categories_batch.sql after each
-- batch; again from every event when forgetting is recomputed or after a rebuild's load).
CREATE TABLE IF NOT EXISTS flow_categories (
    event_type  VARCHAR NOT NULL,
    purpose     VARCHAR,
    legal_basis VARCHAR,
    holder      VARCHAR,
    from_holder VARCHAR,
    role        VARCHAR,
    country     VARCHAR,
    mechanism   VARCHAR,
    category    VARCHAR NOT NULL,
    first_at    TIMESTAMP NOT NULL
);
