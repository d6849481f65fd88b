-- Servers and where they stand.
CREATE TABLE proj_servers (
    server_id        text        PRIMARY KEY,
    account_id       text        NOT NULL,   -- the organization
    name             text        NOT NULL,
    location         text,
    notifications    bigint      NOT NULL,   -- 1 on, 0 off
    partner_access   bigint      NOT NULL,   -- 1 while the customer grants its partner access
    last_backup_id   text,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    position         bigint      NOT NULL
);
CREATE INDEX proj_servers_account ON proj_servers (account_id);
