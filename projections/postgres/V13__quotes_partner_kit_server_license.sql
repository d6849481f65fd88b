-- Quotes a partner prepares for a customer organization.
CREATE TABLE proj_quotes (
    quote_id          text        PRIMARY KEY,
    account_id        text        NOT NULL,   -- the customer organization
    product           text        NOT NULL,
    seats             bigint      NOT NULL,
    unit_price_cents  bigint      NOT NULL,
    currency          text        NOT NULL,   -- ISO 4217, capitals
    total_cents       bigint      NOT NULL,   -- seats × unit_price_cents
    valid_until       text,                   -- YYYY-MM-DD
    note              text,
    status            text        NOT NULL,   -- draft | sent | accepted | declined | withdrawn
    decline_reason    text,
    created_at        timestamptz NOT NULL,
    sent_at           timestamptz,
    decided_at        timestamptz,            -- accepted, declined or withdrawn
    updated_at        timestamptz NOT NULL,
    position          bigint      NOT NULL
);
CREATE INDEX proj_quotes_account ON proj_quotes (account_id, created_at DESC);

-- The partner kit: published marketing materials (withdrawn ones leave).
CREATE TABLE proj_partner_kit (
    item_id       text        PRIMARY KEY,
    title         text        NOT NULL,
    description   text        NOT NULL,
    url           text,                       -- a link, or
    content       text,                       -- the material itself
    category      text        NOT NULL,       -- lowercased
    published_at  timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL,
    position      bigint      NOT NULL
);
CREATE INDEX proj_partner_kit_category ON proj_partner_kit (category, title);

-- The license a server runs under.
ALTER TABLE proj_servers ADD COLUMN license_id text;
