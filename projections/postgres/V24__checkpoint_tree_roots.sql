-- The Merkle roots a checkpoint signs (NULL for checkpoints from before trees).
ALTER TABLE proj_checkpoints ADD COLUMN tree_root text;
ALTER TABLE proj_checkpoints ADD COLUMN accounts_root text;
