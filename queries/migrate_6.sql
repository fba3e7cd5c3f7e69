-- Schema 5 -> 6: the kept (flow, subject) and (flow, category) pairs, filled from the events there now (forgotten
-- rows are already gone from them).
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
