-- Schema 6 -> 7: the kept summaries get integer keys of their components (and of the
-- references), so that replacing marked components and the sums' skips compare integers,
-- not 64-character texts (lineage.services.company). Dropped and made again empty: the
-- next company-wide answer folds every component (as after a change of the rulebook).
DROP TABLE IF EXISTS summary_comps;
DROP TABLE IF EXISTS summary_refs;
DROP TABLE IF EXISTS summary_holdings;
DROP TABLE IF EXISTS summary_ends;
DROP TABLE IF EXISTS summary_moves;
DROP TABLE IF EXISTS summary_breaches;
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
DELETE FROM dirty_refs;
DELETE FROM meta WHERE key = 'summary_fingerprint';
