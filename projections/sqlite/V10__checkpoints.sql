-- Signed checkpoints (see projections/postgres/V10__checkpoints.sql).
CREATE TABLE proj_checkpoints (
    position       INTEGER PRIMARY KEY,
    head_position  INTEGER NOT NULL,
    head_hash      TEXT    NOT NULL,
    key_id         TEXT    NOT NULL,
    signature      TEXT    NOT NULL,
    recorded_at    TEXT    NOT NULL
);
