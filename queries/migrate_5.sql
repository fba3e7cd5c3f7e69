-- Schema 4 -> 5: kept per-component summaries for the company-wide answers, and the marks
-- of what changed since (lineage.services.company). Empty: the first audit folds everything.
CREATE TABLE IF NOT EXISTS summary_comps (
    comp   VARCHAR NOT NULL,
    refs   VARCHAR[] NOT NULL,
    latest TIMESTAMP NOT NULL
);
-- Each reference of a kept component (the lookup for marked references).
CREATE TABLE IF NOT EXISTS summary_refs (
    comp VARCHAR NOT NULL,
    ref  VARCHAR NOT NULL
);
-- Each holding with a known retention end, with its earliest: overdue once that passed.
CREATE TABLE IF NOT EXISTS summary_holdings (
    comp      VARCHAR NOT NULL,
    holder    VARCHAR NOT NULL,
    first_end TIMESTAMP NOT NULL
);
CREATE TABLE IF NOT EXISTS summary_ends (
    comp         VARCHAR NOT NULL,
    holder       VARCHAR NOT NULL,
    category     VARCHAR NOT NULL,
    retain_until TIMESTAMP NOT NULL,
    uses         VARCHAR NOT NULL,  -- JSON lists: data uses, catalog purposes
    pids         VARCHAR NOT NULL
);
CREATE TABLE IF NOT EXISTS summary_moves (
    comp        VARCHAR NOT NULL,
    holder      VARCHAR NOT NULL,
    purpose     VARCHAR,
    from_holder VARCHAR,
    country     VARCHAR NOT NULL,
    mechanism   VARCHAR NOT NULL,
    moved_at    TIMESTAMP NOT NULL
);
CREATE TABLE IF NOT EXISTS summary_breaches (
    comp      VARCHAR NOT NULL,
    holder    VARCHAR NOT NULL,
    purpose   VARCHAR NOT NULL,
    breach_at TIMESTAMP NOT NULL
);
CREATE TABLE IF NOT EXISTS dirty_refs (
    ref VARCHAR NOT NULL
);
DELETE FROM meta WHERE key = 'summary_fingerprint';
