-- Support tickets.
CREATE TABLE proj_tickets (
    ticket_id      text        PRIMARY KEY,
    account_id     text        NOT NULL,
    subject        text        NOT NULL,
    status         text        NOT NULL,   -- open | closed
    comment_count  bigint      NOT NULL,
    resolution     text,
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL,
    position       bigint      NOT NULL
);
CREATE INDEX proj_tickets_account ON proj_tickets (account_id, created_at DESC);
