-- Moves of data outside the EEA (`moves`: one per component and holding), grouped by
-- recipient, purpose, source, country, tool and the span of dates (`spans`, from
-- lineage.rules.transfers.changes) the move's date falls in: a transfer is judged on its
-- own date, and every date of a span gets the same judgment, so one judgment covers a group.
SELECT m.holder, m.purpose, m.from_holder, m.country, m.mechanism,
       count(*), min(m.moved_at), max(m.moved_at)
FROM moves m
LEFT JOIN spans s ON s.mechanism = m.mechanism AND s.country = m.country
GROUP BY m.holder, m.purpose, m.from_holder, m.country, m.mechanism,
         len(list_filter(coalesce(s.changes, []), lambda d: d <= m.moved_at::DATE))
ORDER BY m.holder, m.purpose NULLS FIRST, m.from_holder NULLS FIRST, m.country, m.mechanism,
         min(m.moved_at);
