-- Subjects (identity components) with lineage events, from the summaries (`comps`).
SELECT count(*) FROM comps;
