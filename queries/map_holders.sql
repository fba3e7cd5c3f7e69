-- What the events say about each holder up to $as_of: whether it collected from data subjects
-- (an own system), and its most frequent recipient role and country.
SELECT
    holder,
    bool_or(event_type = @COLLECTED) AS collected,
    mode(role) FILTER (WHERE event_type <> @COLLECTED) AS role,
    mode(country) AS country
FROM events
WHERE event_type IN @FLOWS
  AND occurred_at <= $as_of
GROUP BY holder
ORDER BY holder;
