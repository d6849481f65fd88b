-- Per-person encryption keys for crypto-shredding; kept outside the event
-- log on purpose (see schema/postgres/V4__personal_keys.sql). The embedded
-- store erases with `PRAGMA secure_delete` so a destroyed key does not linger
-- in free pages of the file.
CREATE TABLE personal_keys (
    subject       TEXT PRIMARY KEY,
    secret        BLOB,
    created_at    TEXT NOT NULL,
    destroyed_at  TEXT,
    CHECK ((secret IS NULL) = (destroyed_at IS NOT NULL)),
    CHECK (secret IS NULL OR length(secret) = 32)
);
