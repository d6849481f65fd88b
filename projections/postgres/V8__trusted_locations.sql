-- Trusted login locations (IP-based 2FA): a sign-in from any other address
-- needs an e-mailed code once a user has one. Rows go on purge.
CREATE TABLE proj_trusted_locations (
    user_id   text        NOT NULL,
    ip        text        NOT NULL,  -- canonical text form
    added_at  timestamptz NOT NULL,
    position  bigint      NOT NULL,
    PRIMARY KEY (user_id, ip)
);
