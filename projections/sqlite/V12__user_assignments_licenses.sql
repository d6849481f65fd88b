-- Usernames, assigned customers and held licenses on the user's row (see
-- projections/postgres/V12__user_assignments_licenses.sql); JSON is text.
ALTER TABLE proj_users ADD COLUMN assigned_customers TEXT NOT NULL DEFAULT '[]';
ALTER TABLE proj_users ADD COLUMN licenses TEXT NOT NULL DEFAULT '[]';
ALTER TABLE proj_users ADD COLUMN username TEXT;
CREATE INDEX proj_users_username ON proj_users (username);

DELETE FROM proj_trusted_locations;
DELETE FROM proj_users;
DELETE FROM projection_checkpoints WHERE projector = 'users';
