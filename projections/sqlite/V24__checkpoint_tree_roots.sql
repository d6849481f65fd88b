-- The Merkle roots a checkpoint signs (NULL before trees).
ALTER TABLE proj_checkpoints ADD COLUMN tree_root TEXT;
ALTER TABLE proj_checkpoints ADD COLUMN accounts_root TEXT;
