-- Counts for `lineage status`.
SELECT
    (SELECT count(*) FROM events) AS events,
    (SELECT count(DISTINCT subject_ref) FROM events WHERE event_type <> @IDENTITY_LINKED) AS subject_refs,
    (SELECT count(DISTINCT holder) FROM events WHERE holder IS NOT NULL) AS holders,
    (SELECT count(*) FROM quarantine) AS quarantined,
    (SELECT max(occurred_at) FROM events) AS last_event_at;
