-- Data still held past its retention as of $as_of, per holder and purpose.
-- retention_map(retention, months, days): the events' own ISO 8601 durations, as numbers;
-- rule_map(purpose, holder, pid, runs_from, months, days, until_withdrawn): the catalog rule(s)
-- for a data use at a holder. Both are registered by the caller (DuckDB reads no ISO durations).
-- A subject's data at a holder is overdue when every purpose it is held for has a known end
-- (data may be kept as long as any purpose allows) and the latest end has passed.
-- DataErased at the holder ends the holding (categories are not told apart here).
WITH base AS (
    SELECT subject_ref, holder, purpose, occurred_at, retention
    FROM events
    WHERE event_type IN ('DataCollected', 'DataShared', 'DataTransferred')
      AND occurred_at <= $as_of AND purpose IS NOT NULL
),
erased AS (
    SELECT subject_ref, holder, max(occurred_at) AS erased_at
    FROM events
    WHERE event_type = 'DataErased' AND occurred_at <= $as_of
    GROUP BY ALL
),
per_subject_purpose AS (
    -- Last activity under a purpose and the latest consent event for it, in one pass.
    SELECT subject_ref, purpose,
           max(occurred_at) FILTER (WHERE event_type NOT IN ('ConsentGiven', 'ConsentWithdrawn'))
               AS last_at,
           arg_max(event_type, occurred_at)
               FILTER (WHERE event_type IN ('ConsentGiven', 'ConsentWithdrawn')) AS last_type,
           max(occurred_at) FILTER (WHERE event_type IN ('ConsentGiven', 'ConsentWithdrawn'))
               AS consent_at
    FROM events
    WHERE event_type IN ('DataCollected', 'DataShared', 'DataTransferred',
                         'ConsentGiven', 'ConsentWithdrawn')
      AND occurred_at <= $as_of AND purpose IS NOT NULL
    GROUP BY ALL
),
holding AS (
    SELECT b.subject_ref, b.holder, b.purpose,
           min(b.occurred_at) AS first_at,
           max(b.occurred_at) AS last_at,
           max(b.occurred_at + to_months(r.months::INTEGER) + to_days(r.days::INTEGER))
               AS event_until
    FROM base b
    LEFT JOIN retention_map r ON r.retention = b.retention
    LEFT JOIN erased x ON x.subject_ref = b.subject_ref AND x.holder = b.holder
    WHERE x.erased_at IS NULL OR b.occurred_at > x.erased_at
    GROUP BY ALL
),
ruled AS (
    SELECT h.subject_ref, h.holder, h.purpose, m.pid,
        CASE
            WHEN h.event_until IS NOT NULL THEN h.event_until
            WHEN m.pid IS NULL THEN NULL
            WHEN m.until_withdrawn = 'true' THEN
                CASE WHEN c.last_type = 'ConsentWithdrawn' THEN c.consent_at END
            WHEN m.runs_from = 'consent_withdrawal' THEN
                CASE WHEN c.last_type = 'ConsentWithdrawn'
                     THEN c.consent_at + to_months(m.months::INTEGER) + to_days(m.days::INTEGER) END
            WHEN m.runs_from = 'collection' THEN
                h.first_at + to_months(m.months::INTEGER) + to_days(m.days::INTEGER)
            WHEN m.runs_from = 'end_of_financial_year' THEN
                (CASE WHEN h.last_at::DATE > make_date(year(h.last_at), $fy_month, $fy_day)
                      THEN make_date(year(h.last_at) + 1, $fy_month, $fy_day)
                      ELSE make_date(year(h.last_at), $fy_month, $fy_day) END
                 + INTERVAL 1 DAY)::TIMESTAMP
                + to_months(m.months::INTEGER) + to_days(m.days::INTEGER)
            ELSE c.last_at + to_months(m.months::INTEGER) + to_days(m.days::INTEGER)
        END AS until
    FROM holding h
    LEFT JOIN rule_map m ON m.purpose = h.purpose AND m.holder = h.holder
    LEFT JOIN per_subject_purpose c ON c.subject_ref = h.subject_ref AND c.purpose = h.purpose
),
per_holder AS (
    -- Several catalog purposes may share a data use (the longest allowance wins) and data
    -- may be kept as long as any purpose allows: one open end keeps the holding open.
    SELECT subject_ref, holder,
           CASE WHEN bool_or(until IS NULL) THEN NULL ELSE max(until) END AS until
    FROM ruled GROUP BY ALL
),
overdue AS (
    SELECT subject_ref, holder, until FROM per_holder
    WHERE until IS NOT NULL AND until < $as_of
),
labels AS (
    -- The purposes named only for the overdue holdings: list building per subject would
    -- cost more than the rest of the query.
    SELECT r.holder,
           list_sort(list_distinct(list(r.purpose))) AS purposes,
           list_sort(list_distinct(list(r.pid))) AS pids
    FROM ruled r
    JOIN overdue o ON o.subject_ref = r.subject_ref AND o.holder = r.holder
    GROUP BY r.holder
),
totals AS (
    SELECT holder, count(*) AS subjects, min(until) AS earliest_until,
           max(until) AS latest_until, min(subject_ref, 3) AS examples
    FROM overdue GROUP BY holder
)
SELECT t.holder, l.purposes, l.pids, t.subjects, t.earliest_until, t.latest_until, t.examples
FROM totals t
JOIN labels l ON l.holder = t.holder
ORDER BY t.holder;
