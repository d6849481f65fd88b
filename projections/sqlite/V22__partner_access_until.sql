-- When a customer's grant to its partner ends (NULL: until revoked, or no
-- grant); `server.registered` and `server.partner_access_granted` v2.
ALTER TABLE proj_servers ADD COLUMN partner_access_until TEXT;
