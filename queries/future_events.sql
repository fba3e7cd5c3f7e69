-- Events dated after $after (naive UTC): for `lineage status` ($refs NULL: every subject)
-- and the who-has notice of events it leaves out ($refs: one subject's references).
SELECT count(*) AS events, min(occurred_at) AS first_at
FROM events
WHERE occurred_at > $after
  AND ($refs IS NULL OR subject_ref IN (SELECT unnest($refs::VARCHAR[])));
