-- Service accounts (`service_account.*` events): one row each, for the
-- account's list; keys are read from the service account's stream.
CREATE TABLE proj_service_accounts (
    service_account_id  text        PRIMARY KEY,
    account_id          text        NOT NULL,
    name                text        NOT NULL,
    role                text        NOT NULL,
    customers           jsonb       NOT NULL,   -- ids; empty: all of a partner's customers
    status              text        NOT NULL,   -- active | deactivated
    keys_issued         bigint      NOT NULL,
    keys_revoked        bigint      NOT NULL,
    created_at          timestamptz NOT NULL,
    deactivated_at      timestamptz,
    updated_at          timestamptz NOT NULL,
    position            bigint      NOT NULL
);
-- The list's keyset: oldest first, then by id.
CREATE INDEX proj_service_accounts_keyset
    ON proj_service_accounts (account_id, created_at, service_account_id);

-- A service account acting through a key: who, under which name then, and
-- with which key (all NULL for people and the system).
ALTER TABLE proj_activity ADD COLUMN actor_service_account_id text;
ALTER TABLE proj_activity ADD COLUMN actor_name text;
ALTER TABLE proj_activity ADD COLUMN actor_api_key_id text;
