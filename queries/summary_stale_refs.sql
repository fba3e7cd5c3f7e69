-- Every reference of the kept components that hold any of $refs.
SELECT ref FROM summary_refs
WHERE ck IN (SELECT ck FROM summary_refs WHERE rk IN (SELECT md5_number(unnest($refs::VARCHAR[]))));
