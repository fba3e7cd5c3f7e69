-- Every holder name the events mention: where data was collected, shared or transferred to,
-- where it came from, and holders named by erasure updates (those outlive forgetting).
SELECT holder AS name FROM events WHERE holder IS NOT NULL
UNION
SELECT from_holder FROM events WHERE from_holder IS NOT NULL
ORDER BY name;
