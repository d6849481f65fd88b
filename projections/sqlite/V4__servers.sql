CREATE TABLE proj_servers (
    server_id        TEXT    PRIMARY KEY,
    account_id       TEXT    NOT NULL,
    name             TEXT    NOT NULL,
    location         TEXT,
    notifications    INTEGER NOT NULL,
    partner_access   INTEGER NOT NULL,
    last_backup_id   TEXT,
    created_at       TEXT    NOT NULL,
    updated_at       TEXT    NOT NULL,
    position         INTEGER NOT NULL
);
CREATE INDEX proj_servers_account ON proj_servers (account_id);
