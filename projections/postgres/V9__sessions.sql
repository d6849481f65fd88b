-- Sessions: live while closed_at and revoked_at are NULL and expires_at is
-- in the future.
CREATE TABLE proj_sessions (
    session_id    text        PRIMARY KEY,
    user_id       text        NOT NULL,
    account_id    text        NOT NULL,
    opened_at     timestamptz NOT NULL,
    expires_at    timestamptz NOT NULL,
    closed_at     timestamptz,            -- signed out
    close_reason  text,                   -- signed_out
    revoked_at    timestamptz,            -- force logout, password / e-mail change, deletion
    ip            text,                   -- where it was opened from (NULL after a purge)
    user_agent    text,
    position      bigint      NOT NULL
);
CREATE INDEX proj_sessions_user ON proj_sessions (user_id, opened_at DESC);
CREATE INDEX proj_sessions_account ON proj_sessions (account_id, opened_at DESC);
