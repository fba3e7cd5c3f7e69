-- Records the projector set aside (`lineage dlq list` for the file log).
SELECT 'log' AS topic, log_partition AS partition, log_offset AS "offset", reason,
       octet_length(payload) AS size, seen_at
FROM quarantine
ORDER BY log_partition, log_offset;
