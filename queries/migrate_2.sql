-- Schema 1 -> 2: indexes for per-subject lookups (see schema.sql).
CREATE INDEX IF NOT EXISTS events_subject ON events (subject_ref);
CREATE INDEX IF NOT EXISTS identity_links_subject ON identity_links (subject_ref);
