-- Processing under consent after it was withdrawn (`breaches`), per holder and data use.
SELECT holder, purpose, count(DISTINCT comp), count(*), min(breach_at), max(breach_at)
FROM breaches
GROUP BY holder, purpose
ORDER BY holder, purpose;
