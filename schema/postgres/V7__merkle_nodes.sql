-- The log's Merkle tree (RFC 9162), beside it: the hashes of its perfect
-- subtrees of 16 leaves and more (`level` ≥ 4: leaves idx·2^level ..
-- (idx+1)·2^level − 1, 0-based; leaf i is the event at position i + 1).
-- Smaller subtrees are computed from the events. See
-- src/integrity/merkle_store.rs.
--
-- Derived data, not evidence: every hash here is a function of `events`,
-- so a lost or wrong row is recomputed, never trusted over the log (a
-- proof is checked against a signed root, which `verify` recomputes from
-- the events). Rows are only ever added; writers racing add the same rows.
CREATE TABLE merkle_nodes (
    level  integer NOT NULL,
    idx    bigint  NOT NULL,
    hash   bytea   NOT NULL,
    PRIMARY KEY (level, idx)
);

-- How many leaves the stored nodes cover (a multiple of 16); only grows.
CREATE TABLE merkle_state (
    id    integer PRIMARY KEY CHECK (id = 1),
    size  bigint  NOT NULL
);
