-- The Merkle root a checkpoint signs (NULL before trees).
ALTER TABLE proj_checkpoints ADD COLUMN tree_root TEXT;
