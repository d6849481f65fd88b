-- Erasing a purged person from the activity log (see
-- projections/postgres/V6__erasure.sql).
ALTER TABLE proj_activity ADD COLUMN personal_subject TEXT;
CREATE INDEX proj_activity_personal_subject ON proj_activity (personal_subject);
CREATE INDEX proj_activity_actor ON proj_activity (actor_user_id);
