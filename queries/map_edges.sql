-- The company's data map: every observed flow up to $as_of, aggregated per pair of holders
-- (from_holder is NULL for collection from the data subject). One edge per pair keeps the
-- picture legible; the categories, bases and purposes of all its flows are listed on it.
SELECT
    from_holder,
    holder,
    list_sort(list_distinct(flatten(list(DISTINCT categories)))) AS categories,
    list_sort(list_distinct(list(legal_basis) FILTER (WHERE legal_basis IS NOT NULL)))
        AS legal_bases,
    list_sort(list_distinct(list(purpose) FILTER (WHERE purpose IS NOT NULL))) AS purposes,
    list_sort(list_distinct(list(data_subject) FILTER (WHERE data_subject IS NOT NULL)))
        AS data_subjects,
    count(DISTINCT subject_ref) AS subjects,
    count(*) AS events,
    min(occurred_at) AS first_seen,
    max(occurred_at) AS last_seen
FROM events
WHERE event_type IN @FLOWS
  AND occurred_at <= $as_of
GROUP BY from_holder, holder
ORDER BY from_holder NULLS FIRST, holder;
