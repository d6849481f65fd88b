-- Sessions (see projections/postgres/V9__sessions.sql).
CREATE TABLE proj_sessions (
    session_id    TEXT    PRIMARY KEY,
    user_id       TEXT    NOT NULL,
    account_id    TEXT    NOT NULL,
    opened_at     TEXT    NOT NULL,
    expires_at    TEXT    NOT NULL,
    closed_at     TEXT,
    close_reason  TEXT,
    revoked_at    TEXT,
    ip            TEXT,
    user_agent    TEXT,
    position      INTEGER NOT NULL
);
CREATE INDEX proj_sessions_user ON proj_sessions (user_id, opened_at DESC);
CREATE INDEX proj_sessions_account ON proj_sessions (account_id, opened_at DESC);
