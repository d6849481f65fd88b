CREATE TABLE proj_invitations (
    invitation_id        TEXT    PRIMARY KEY,
    account_id           TEXT    NOT NULL,
    email                TEXT    NOT NULL,
    email_key            TEXT    NOT NULL,
    kind                 TEXT    NOT NULL,
    role                 TEXT,
    tenant_name          TEXT,
    status               TEXT    NOT NULL,
    expires_at           TEXT    NOT NULL,
    accepted_user_id     TEXT,
    created_at           TEXT    NOT NULL,
    updated_at           TEXT    NOT NULL,
    position             INTEGER NOT NULL
);
CREATE INDEX proj_invitations_account ON proj_invitations (account_id, created_at DESC);

ALTER TABLE proj_users ADD COLUMN email_key TEXT;
CREATE INDEX proj_users_email_key ON proj_users (email_key);
