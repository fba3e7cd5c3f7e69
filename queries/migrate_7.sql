-- Schema 6 -> 7: the kept summaries get integer keys of their components (and of the
-- references), so that replacing marked components and the sums' skips compare integers,
-- not 64-character texts (lineage.services.company). Dropped here and made again, empty,
-- by schema.sql (the next step): the next company-wide answer folds every component (as
-- after a change of the rulebook).
DROP TABLE IF EXISTS summary_comps;
DROP TABLE IF EXISTS summary_refs;
DROP TABLE IF EXISTS summary_holdings;
DROP TABLE IF EXISTS summary_ends;
DROP TABLE IF EXISTS summary_moves;
DROP TABLE IF EXISTS summary_breaches;
DELETE FROM dirty_refs;
DELETE FROM meta WHERE key = 'summary_fingerprint';
