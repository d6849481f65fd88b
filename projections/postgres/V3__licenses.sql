-- Licenses (subscriptions with seats) and who holds a seat.
CREATE TABLE proj_licenses (
    license_id      text        PRIMARY KEY,
    account_id      text        NOT NULL,   -- the organization
    product         text        NOT NULL,
    seats           bigint      NOT NULL,
    assigned_count  bigint      NOT NULL,
    status          text        NOT NULL,   -- active | cancelled
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    position        bigint      NOT NULL
);
CREATE INDEX proj_licenses_account ON proj_licenses (account_id);

CREATE TABLE proj_license_assignments (
    license_id  text NOT NULL,
    user_id     text NOT NULL,
    PRIMARY KEY (license_id, user_id)
);
CREATE INDEX proj_license_assignments_user ON proj_license_assignments (user_id);
