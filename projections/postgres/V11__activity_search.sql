-- Activity-log search for auditors: what each filter needs to keep the first
-- page fast on a large log (newest first, keyset on position).
CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- `succeeded`, or `challenged` (a sign-in from a new location that sent a
-- code). Refused commands append nothing, so they have no entry.
ALTER TABLE proj_activity ADD COLUMN outcome text NOT NULL DEFAULT 'succeeded';

CREATE INDEX proj_activity_position ON proj_activity (position DESC);
CREATE INDEX proj_activity_actor_email ON proj_activity (lower(actor_email) text_pattern_ops, position DESC);
CREATE INDEX proj_activity_action_type ON proj_activity (action_type, position DESC);
CREATE INDEX proj_activity_description ON proj_activity USING gin (lower(description) gin_trgm_ops);
CREATE INDEX proj_activity_targets ON proj_activity USING gin (targets jsonb_path_ops);
CREATE INDEX proj_activity_recorded_at ON proj_activity (recorded_at, position DESC);
