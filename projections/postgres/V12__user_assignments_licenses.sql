-- Usernames, and what a user may work on, on the user's row: the customers a partner's
-- staff member is assigned to (empty: all of the partner's customers) and
-- the licenses the user holds a seat of, each a JSON array of ids sorted
-- ascending (see projections/README.md).
ALTER TABLE proj_users ADD COLUMN assigned_customers jsonb NOT NULL DEFAULT '[]';
ALTER TABLE proj_users ADD COLUMN licenses jsonb NOT NULL DEFAULT '[]';
-- The optional username, lowercased (NULL: none; once purged).
ALTER TABLE proj_users ADD COLUMN username text;
CREATE INDEX proj_users_username ON proj_users (username) WHERE username IS NOT NULL;

-- Rows projected before this migration lack these columns: the users projector
-- starts again from the beginning of the log (its rows are replaced as it
-- replays).
DELETE FROM proj_trusted_locations;
DELETE FROM proj_users;
DELETE FROM projection_checkpoints WHERE projector = 'users';
