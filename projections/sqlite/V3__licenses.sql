CREATE TABLE proj_licenses (
    license_id      TEXT    PRIMARY KEY,
    account_id      TEXT    NOT NULL,
    product         TEXT    NOT NULL,
    seats           INTEGER NOT NULL,
    assigned_count  INTEGER NOT NULL,
    status          TEXT    NOT NULL,
    created_at      TEXT    NOT NULL,
    updated_at      TEXT    NOT NULL,
    position        INTEGER NOT NULL
);
CREATE INDEX proj_licenses_account ON proj_licenses (account_id);

CREATE TABLE proj_license_assignments (
    license_id  TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    PRIMARY KEY (license_id, user_id)
);
CREATE INDEX proj_license_assignments_user ON proj_license_assignments (user_id);
