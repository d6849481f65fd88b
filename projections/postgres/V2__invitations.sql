-- Invitations, as the pending-invitations view shows them.
CREATE TABLE proj_invitations (
    invitation_id        text        PRIMARY KEY,
    account_id           text        NOT NULL,  -- the account whose admins manage it
    email                text        NOT NULL,
    email_key            text        NOT NULL,  -- lowercased, to match users
    kind                 text        NOT NULL,  -- user | partner | organization
    role                 text,                  -- for user invitations
    tenant_name          text,                  -- for partner / organization invitations
    status               text        NOT NULL,  -- pending | accepted | revoked (expiry is read against expires_at)
    expires_at           timestamptz NOT NULL,
    accepted_user_id     text,
    created_at           timestamptz NOT NULL,
    updated_at           timestamptz NOT NULL,
    position             bigint      NOT NULL
);
CREATE INDEX proj_invitations_account ON proj_invitations (account_id, created_at DESC);

-- Users by lowercased address ("does a user exist for this e-mail?").
ALTER TABLE proj_users ADD COLUMN email_key text;
CREATE INDEX proj_users_email_key ON proj_users (email_key);
