-- The first answer to each command sent with an `Idempotency-Key` (see
-- schema/postgres/V3__idempotency_keys.sql).
CREATE TABLE idempotency_keys (
    scope        TEXT    NOT NULL,
    key          TEXT    NOT NULL,
    fingerprint  TEXT    NOT NULL,
    status       INTEGER,
    body         BLOB,
    created_at   TEXT    NOT NULL,
    PRIMARY KEY (scope, key)
);
