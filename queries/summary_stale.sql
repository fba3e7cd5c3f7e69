-- The kept components that hold any of $refs (lineage.services.company), by their keys.
SELECT DISTINCT comp FROM summary_refs
WHERE rk IN (SELECT md5_number(unnest($refs::VARCHAR[])));
