-- Activity-log search (see projections/postgres/V11__activity_search.sql).
ALTER TABLE proj_activity ADD COLUMN outcome TEXT NOT NULL DEFAULT 'succeeded';
CREATE INDEX proj_activity_actor_email ON proj_activity (lower(actor_email), position DESC);
CREATE INDEX proj_activity_action_type ON proj_activity (action_type, position DESC);
CREATE INDEX proj_activity_recorded_at ON proj_activity (recorded_at, position DESC);
