-- Password hashes (argon2id PHC strings), one per user.
--
-- Kept outside the event log on purpose: secrets do not belong in a log that
-- is immutable and exported to auditors. The log records *that* a password
-- changed (`user.password_changed`), never the secret. Unlike `events`, rows
-- here are replaced when a password changes and deleted when a user is
-- purged.
CREATE TABLE credentials (
    user_id        uuid        PRIMARY KEY,
    password_hash  text        NOT NULL,
    updated_at     timestamptz NOT NULL
);
