-- The kept component summaries that hold any of $refs (lineage.services.company).
SELECT comp FROM summary_comps WHERE list_has_any(refs, $refs::VARCHAR[]);
