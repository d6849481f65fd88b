-- Who applies each projector now (see src/projection/lease.rs): at most one
-- process holds a projector's lease at a time. `token` grows by one at every
-- change of holder and fences the previous one: a batch commits only while
-- its lease row still carries the token it was acquired with and has not
-- expired (the database's clock decides), in the same transaction as the
-- compare-and-set of the projector's checkpoint.
CREATE TABLE projection_leases (
    projector    text        PRIMARY KEY,
    holder       text        NOT NULL,  -- host/pid/random of the process
    token        bigint      NOT NULL,
    acquired_at  timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL,  -- in the past once released
    failure      text                   -- why the holder cannot advance (position, error), NULL while it can
);
