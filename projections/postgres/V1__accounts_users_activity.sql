-- Read models built from the event log by the projectors in src/projection/.
-- Plain tables: a portal back end may read them with SQL. They can be
-- dropped and rebuilt from the log at any time (`portal-ledger rebuild`).

-- Where each projector has got to in the log.
CREATE TABLE projection_checkpoints (
    projector   text   PRIMARY KEY,
    position    bigint NOT NULL
);

-- Every account: the platform, partners and their customer organizations.
CREATE TABLE proj_accounts (
    account_id        text        PRIMARY KEY,
    kind              text        NOT NULL,  -- platform | partner | organization
    name              text        NOT NULL,
    parent_id         text,                  -- the partner owning an organization
    status            text        NOT NULL,  -- active | deleted
    primary_admin_id  text,                  -- the account owner
    admin_count       bigint      NOT NULL,
    created_at        timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL,
    position          bigint      NOT NULL   -- last event applied
);
CREATE INDEX proj_accounts_parent ON proj_accounts (parent_id);

-- Every user, with the state the log gives them now.
CREATE TABLE proj_users (
    user_id     text        PRIMARY KEY,
    account_id  text        NOT NULL,
    email       text,                      -- NULL once purged
    name        text,                      -- NULL once purged
    role        text        NOT NULL,      -- admin | regular | support | read-only | sales | user | marketing | notifications
    status      text        NOT NULL,      -- active | deleted | purged
    origin      text        NOT NULL,      -- bootstrap | direct | invitation | import
    created_at  timestamptz NOT NULL,
    deleted_at  timestamptz,
    updated_at  timestamptz NOT NULL,
    position    bigint      NOT NULL
);
CREATE INDEX proj_users_account ON proj_users (account_id);
CREATE INDEX proj_users_email ON proj_users (lower(email));

-- The activity log: one row per command (its first event), as an auditor reads it.
CREATE TABLE proj_activity (
    activity_id     text        PRIMARY KEY,  -- the command's id (one row per command), else the event's id
    position        bigint      NOT NULL UNIQUE,  -- the command's first event
    recorded_at     timestamptz NOT NULL,
    event_type      text        NOT NULL,
    action_type     text,
    description     text,
    actor_user_id   text,
    actor_email     text,                  -- the actor's e-mail at that time
    account_id      text,
    on_behalf_of    text,
    targets         jsonb       NOT NULL,  -- [{"type": "user", "id": "…"}]
    ip              text,
    user_agent      text,
    correlation_id  text
);
CREATE INDEX proj_activity_account ON proj_activity (account_id, position DESC);
