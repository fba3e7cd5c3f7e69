-- Erasure requests older than the Art. 12(3) month whose tasks are not all settled
-- (confirmed, refused with a reason, or retained under an exception), as of $as_of.
WITH requests AS (
    SELECT request_id, subject_ref, coalesce(at_time, occurred_at) AS received_at
    FROM events
    WHERE event_type = 'ErasureRequested' AND occurred_at <= $as_of
),
tasks AS (
    SELECT request_id, holder, arg_max(status, occurred_at) AS status
    FROM events
    WHERE event_type = 'ErasureTaskUpdated' AND occurred_at <= $as_of
    GROUP BY ALL
)
SELECT r.request_id, r.received_at,
       list_sort(list(t.holder) FILTER (
           WHERE t.status NOT IN ('confirmed', 'refused', 'retained'))) AS open_holders,
       count(t.holder) AS tasks
FROM requests r
LEFT JOIN tasks t ON t.request_id = r.request_id
WHERE r.received_at + INTERVAL 1 MONTH < $as_of
GROUP BY ALL
HAVING count(t.holder) = 0
    OR count(t.holder) FILTER (WHERE t.status NOT IN ('confirmed', 'refused', 'retained')) > 0
ORDER BY r.received_at;
