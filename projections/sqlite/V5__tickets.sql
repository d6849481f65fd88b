CREATE TABLE proj_tickets (
    ticket_id      TEXT    PRIMARY KEY,
    account_id     TEXT    NOT NULL,
    subject        TEXT    NOT NULL,
    status         TEXT    NOT NULL,
    comment_count  INTEGER NOT NULL,
    resolution     TEXT,
    created_at     TEXT    NOT NULL,
    updated_at     TEXT    NOT NULL,
    position       INTEGER NOT NULL
);
CREATE INDEX proj_tickets_account ON proj_tickets (account_id, created_at DESC);
