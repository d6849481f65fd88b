-- The first answer to each command sent with an `Idempotency-Key`, so a
-- retried request gets that answer again and appends nothing new.
--
-- Outside the log: these are cached answers, not facts. `status` is NULL
-- while the first request is still running; answers of 5xx are not kept.
CREATE TABLE idempotency_keys (
    scope        text        NOT NULL,  -- SHA-256 of the caller's bearer token, or 'anonymous'
    key          text        NOT NULL,  -- the client's Idempotency-Key
    fingerprint  text        NOT NULL,  -- SHA-256 of method, path and body
    status       integer,
    body         bytea,
    created_at   timestamptz NOT NULL,
    PRIMARY KEY (scope, key)
);
