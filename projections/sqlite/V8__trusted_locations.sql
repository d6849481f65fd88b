-- Trusted login locations (see projections/postgres/V8__trusted_locations.sql).
CREATE TABLE proj_trusted_locations (
    user_id   TEXT    NOT NULL,
    ip        TEXT    NOT NULL,
    added_at  TEXT    NOT NULL,
    position  INTEGER NOT NULL,
    PRIMARY KEY (user_id, ip)
);
