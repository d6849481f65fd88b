-- When each API key was last used; outside the log on purpose (see
-- schema/postgres/V6__api_key_uses.sql).
CREATE TABLE api_key_uses (
    key_id        TEXT    PRIMARY KEY,
    last_used_at  TEXT    NOT NULL
);
