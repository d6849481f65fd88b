-- Every list pages by a keyset (see src/http/paging.rs): the account, then
-- the list's sort columns, which never change once a row exists, the last
-- one its id. One index per list in exactly that order serves both the
-- first page and "the rows after this one" as one ordered range scan.
CREATE INDEX proj_users_account_keyset ON proj_users (account_id, created_at, user_id);
CREATE INDEX proj_servers_account_keyset ON proj_servers (account_id, created_at, server_id);
CREATE INDEX proj_licenses_account_keyset ON proj_licenses (account_id, product, license_id);
CREATE INDEX proj_invitations_account_keyset ON proj_invitations (account_id, created_at DESC, invitation_id);
CREATE INDEX proj_tickets_account_keyset ON proj_tickets (account_id, created_at DESC, ticket_id);
CREATE INDEX proj_quotes_account_keyset ON proj_quotes (account_id, created_at DESC, quote_id);
CREATE INDEX proj_sessions_account_keyset ON proj_sessions (account_id, opened_at DESC, session_id);
CREATE INDEX proj_outbox_account_keyset ON proj_outbox (account_id, position DESC, notification_id);
CREATE INDEX proj_partner_kit_keyset ON proj_partner_kit (published_at DESC, item_id);
-- Replaced by the keyset indexes (their leading columns).
DROP INDEX IF EXISTS proj_invitations_account;
DROP INDEX IF EXISTS proj_tickets_account;
DROP INDEX IF EXISTS proj_quotes_account;
DROP INDEX IF EXISTS proj_sessions_account;
DROP INDEX IF EXISTS proj_outbox_account;
