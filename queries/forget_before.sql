-- Each forgotten reference's cut-off before forget.sql recomputes them (the latest of its
-- rows, as forget.sql's DELETE applies them): forget_lowered.sql compares.
CREATE OR REPLACE TEMP TABLE forgotten_before AS
SELECT subject_ref, max(completed_at) AS completed_at
FROM forgotten_subjects
GROUP BY subject_ref;
