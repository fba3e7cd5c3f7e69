-- The subject references with data events at holder $holder up to $at: the candidates whose
-- folded state says what was held there then.
SELECT DISTINCT subject_ref
FROM events
WHERE holder = $holder AND event_type IN @FLOWS AND occurred_at <= $at;
