-- One ordered scan per (account, action type), merged newest first
-- (see projections/postgres/V15__activity_account_action_type.sql).
CREATE INDEX proj_activity_account_action_type ON proj_activity (account_id, action_type, position DESC);
