-- Empty the projection before it is projected again from the start of a compacted log
-- (lineage/projection/projector.py, Projector._start_over), in one transaction.
DELETE FROM events;
DELETE FROM identity_links;
DELETE FROM quarantine;
DELETE FROM forgotten_subjects;
DELETE FROM log_positions;
DELETE FROM summary_comps;
DELETE FROM summary_refs;
DELETE FROM summary_holdings;
DELETE FROM summary_ends;
DELETE FROM summary_moves;
DELETE FROM summary_breaches;
DELETE FROM dirty_refs;
DELETE FROM meta WHERE key = 'summary_fingerprint';
DELETE FROM flow_subjects;
