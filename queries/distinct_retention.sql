-- The retention durations that events carry, up to $as_of.
SELECT DISTINCT retention FROM events WHERE retention IS NOT NULL AND occurred_at <= $as_of;
