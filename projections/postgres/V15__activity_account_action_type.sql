-- "Any of these accounts and any of these action types, newest first": the
-- query answers it as one ordered scan per (account, action type), merged
-- (src/projection/query.rs, Condition::AnyOf). This index serves each of
-- those scans in order, so a partner's auditor filtering by action type
-- reads about one page of rows instead of every match of every filter.
CREATE INDEX proj_activity_account_action_type ON proj_activity (account_id, action_type, position DESC);
