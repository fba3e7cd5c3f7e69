-- Every reference of the kept components that hold any of $refs.
SELECT ref FROM summary_refs
WHERE comp IN (SELECT comp FROM summary_refs WHERE ref IN (SELECT unnest($refs::VARCHAR[])));
