-- Case-insensitive activity search that answers the same on both backends
-- (see projections/postgres/V14__activity_folded_search.sql).
ALTER TABLE proj_activity ADD COLUMN actor_email_folded TEXT;
ALTER TABLE proj_activity ADD COLUMN description_folded TEXT;

-- lower(actor_email) folded only ASCII, and SQLite never serves LIKE 'p%'
-- from it; the folded column (BINARY collation) serves `=` and the range a
-- prefix search asks for (`>= p AND < successor(p)`), newest first.
DROP INDEX IF EXISTS proj_activity_actor_email;
CREATE INDEX proj_activity_actor_email_folded ON proj_activity (actor_email_folded, position DESC);

-- A time window, newest first (the search orders a window by recorded_at,
-- then position: the same order, as recorded_at never decreases): served
-- in order, so `to` alone no longer scans every newer entry.
DROP INDEX IF EXISTS proj_activity_recorded_at;
CREATE INDEX proj_activity_recorded_at_desc ON proj_activity (recorded_at DESC, position DESC);

-- `outcome=challenged` picks rare entries: served from an index instead of
-- scanning the whole log newest first.
CREATE INDEX proj_activity_outcome ON proj_activity (outcome, position DESC);

-- Filled only by the projector: project the activity log again from
-- position 1 at the next start.
DELETE FROM proj_activity;
DELETE FROM projection_checkpoints WHERE projector = 'activity';
