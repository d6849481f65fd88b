-- Which users, licenses and servers were created in which account, and when
-- (see projections/postgres/V16__account_entities.sql).
CREATE TABLE proj_account_entities (
    entity_id   TEXT    PRIMARY KEY,
    kind        TEXT    NOT NULL,
    account_id  TEXT    NOT NULL,
    position    INTEGER NOT NULL,
    recorded_at TEXT    NOT NULL
);
CREATE INDEX proj_account_entities_account ON proj_account_entities (account_id, kind, position);
