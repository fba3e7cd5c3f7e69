-- Every reference of the kept components that hold any of $refs.
SELECT DISTINCT unnest(refs) FROM summary_comps WHERE list_has_any(refs, $refs::VARCHAR[]);
