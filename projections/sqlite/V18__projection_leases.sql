-- Who applies each projector now; see projections/postgres/V18. Times are
-- milliseconds since the Unix epoch from SQLite's clock.
CREATE TABLE projection_leases (
    projector    TEXT    PRIMARY KEY,
    holder       TEXT    NOT NULL,
    token        INTEGER NOT NULL,
    acquired_at  INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    failure      TEXT
);
