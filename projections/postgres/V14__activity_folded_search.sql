-- Case-insensitive activity search that answers the same on both backends
-- (see src/projection/query.rs): the actor e-mail and the description are
-- also stored lowercased by Rust (Unicode), and searches compare those
-- columns with the client's text folded the same way — never `lower()`,
-- which on SQLite folds only ASCII and on PostgreSQL depends on the locale.
ALTER TABLE proj_activity ADD COLUMN actor_email_folded text;
ALTER TABLE proj_activity ADD COLUMN description_folded text;

DROP INDEX IF EXISTS proj_activity_actor_email;
DROP INDEX IF EXISTS proj_activity_description;
-- Exact e-mail (=) and prefix (LIKE 'p%', served by text_pattern_ops).
CREATE INDEX proj_activity_actor_email_folded ON proj_activity (actor_email_folded text_pattern_ops, position DESC);
-- Words anywhere in the description (LIKE '%w%').
CREATE INDEX proj_activity_description_folded ON proj_activity USING gin (description_folded gin_trgm_ops);

-- A time window, newest first (the search orders a window by recorded_at,
-- then position: the same order, as recorded_at never decreases).
DROP INDEX IF EXISTS proj_activity_recorded_at;
CREATE INDEX proj_activity_recorded_at_desc ON proj_activity (recorded_at DESC, position DESC);

-- `outcome=challenged` picks rare entries: served from an index instead of
-- scanning the whole log newest first.
CREATE INDEX proj_activity_outcome ON proj_activity (outcome, position DESC);

-- The folded columns can only be filled by the projector (SQL cannot fold
-- like Rust): empty the activity log read model and forget its checkpoint,
-- so the runner projects it again from position 1 at the next start.
DELETE FROM proj_activity;
DELETE FROM projection_checkpoints WHERE projector = 'activity';
