-- Empty the projection before it is projected again from the start of a compacted log
-- (lineage/projection/projector.py, Projector._start_over), in one transaction.
DELETE FROM events;
DELETE FROM identity_links;
DELETE FROM quarantine;
DELETE FROM forgotten_subjects;
DELETE FROM log_positions;
