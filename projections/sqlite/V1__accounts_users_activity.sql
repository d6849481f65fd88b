-- Read models of the embedded store (a separate file, projections.sqlite3).
-- Same tables and columns as projections/postgres/; times are RFC 3339 text,
-- JSON is text.

CREATE TABLE projection_checkpoints (
    projector   TEXT    PRIMARY KEY,
    position    INTEGER NOT NULL
);

CREATE TABLE proj_accounts (
    account_id        TEXT    PRIMARY KEY,
    kind              TEXT    NOT NULL,
    name              TEXT    NOT NULL,
    parent_id         TEXT,
    status            TEXT    NOT NULL,
    primary_admin_id  TEXT,
    admin_count       INTEGER NOT NULL,
    created_at        TEXT    NOT NULL,
    updated_at        TEXT    NOT NULL,
    position          INTEGER NOT NULL
);
CREATE INDEX proj_accounts_parent ON proj_accounts (parent_id);

CREATE TABLE proj_users (
    user_id     TEXT    PRIMARY KEY,
    account_id  TEXT    NOT NULL,
    email       TEXT,
    name        TEXT,
    role        TEXT    NOT NULL,
    status      TEXT    NOT NULL,
    origin      TEXT    NOT NULL,
    created_at  TEXT    NOT NULL,
    deleted_at  TEXT,
    updated_at  TEXT    NOT NULL,
    position    INTEGER NOT NULL
);
CREATE INDEX proj_users_account ON proj_users (account_id);
CREATE INDEX proj_users_email ON proj_users (lower(email));

CREATE TABLE proj_activity (
    activity_id     TEXT    PRIMARY KEY,
    position        INTEGER NOT NULL UNIQUE,
    recorded_at     TEXT    NOT NULL,
    event_type      TEXT    NOT NULL,
    action_type     TEXT,
    description     TEXT,
    actor_user_id   TEXT,
    actor_email     TEXT,
    account_id      TEXT,
    on_behalf_of    TEXT,
    targets         TEXT    NOT NULL,
    ip              TEXT,
    user_agent      TEXT,
    correlation_id  TEXT
);
CREATE INDEX proj_activity_account ON proj_activity (account_id, position DESC);
