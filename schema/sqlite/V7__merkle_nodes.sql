-- The log's Merkle tree beside it (see schema/postgres/V7__merkle_nodes.sql).
CREATE TABLE merkle_nodes (
    level  INTEGER NOT NULL,
    idx    INTEGER NOT NULL,
    hash   BLOB    NOT NULL,
    PRIMARY KEY (level, idx)
);

CREATE TABLE merkle_state (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    size  INTEGER NOT NULL
);
