-- Password hashes (argon2id PHC strings), one per user; kept outside the
-- event log on purpose (see schema/postgres/V2__credentials.sql).
CREATE TABLE credentials (
    user_id        TEXT    PRIMARY KEY,
    password_hash  TEXT    NOT NULL,
    updated_at     TEXT    NOT NULL
);
