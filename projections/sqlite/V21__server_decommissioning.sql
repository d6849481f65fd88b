-- A server removed (`server.decommissioned`) stays listed with its status:
-- `active` or `decommissioned`, and when.
ALTER TABLE proj_servers ADD COLUMN status TEXT NOT NULL DEFAULT 'active';
ALTER TABLE proj_servers ADD COLUMN decommissioned_at TEXT;
