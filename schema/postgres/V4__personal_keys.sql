-- Per-person encryption keys for crypto-shredding (see src/privacy/mod.rs).
--
-- Personal fields in event payloads and metadata (e-mail addresses, names,
-- IP addresses, user agents, descriptions naming a person) are stored in the
-- log encrypted with the key of their *subject* (`user-<id>` or
-- `invitation-<id>`). The keys live here, outside the append-only log, so a
-- purge can destroy them: the ciphertext stays in `events`, the hash chain
-- still verifies, and the data can no longer be read.
--
-- A destroyed key keeps its row as a tombstone (`secret` NULL,
-- `destroyed_at` set) so the same subject can never get a new key and have
-- later events readable again. Unlike `events`, rows here are updated.
CREATE TABLE personal_keys (
    subject       text        PRIMARY KEY,
    secret        bytea,
    created_at    timestamptz NOT NULL,
    destroyed_at  timestamptz,
    CHECK ((secret IS NULL) = (destroyed_at IS NOT NULL)),
    CHECK (secret IS NULL OR length(secret) = 32)
);
