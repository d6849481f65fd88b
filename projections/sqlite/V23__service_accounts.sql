-- Service accounts (see projections/postgres/V23__service_accounts.sql).
CREATE TABLE proj_service_accounts (
    service_account_id  TEXT    PRIMARY KEY,
    account_id          TEXT    NOT NULL,
    name                TEXT    NOT NULL,
    role                TEXT    NOT NULL,
    customers           TEXT    NOT NULL,
    status              TEXT    NOT NULL,
    keys_issued         INTEGER NOT NULL,
    keys_revoked        INTEGER NOT NULL,
    created_at          TEXT    NOT NULL,
    deactivated_at      TEXT,
    updated_at          TEXT    NOT NULL,
    position            INTEGER NOT NULL
);
CREATE INDEX proj_service_accounts_keyset
    ON proj_service_accounts (account_id, created_at, service_account_id);

ALTER TABLE proj_activity ADD COLUMN actor_service_account_id TEXT;
ALTER TABLE proj_activity ADD COLUMN actor_name TEXT;
ALTER TABLE proj_activity ADD COLUMN actor_api_key_id TEXT;
