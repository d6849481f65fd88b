-- Signed checkpoints (see src/integrity/checkpoint.rs for the signed bytes).
CREATE TABLE proj_checkpoints (
    position       bigint      PRIMARY KEY,  -- of the checkpoint event
    head_position  bigint      NOT NULL,     -- the head it signs
    head_hash      text        NOT NULL,
    key_id         text        NOT NULL,
    signature      text        NOT NULL,     -- Ed25519, hex
    recorded_at    timestamptz NOT NULL
);
