-- The kept components that hold any of $refs (lineage.services.company).
SELECT DISTINCT comp FROM summary_refs WHERE ref IN (SELECT unnest($refs::VARCHAR[]));
