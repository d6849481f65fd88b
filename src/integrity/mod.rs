//! Integrity: the rules a log must satisfy (`chain_rules`), checked over a
//! store (`verify_store`) or an export file (`offline`), and the signed
//! checkpoints that pin heads for auditors (`checkpoint`).
//!
//! The hash chain shows that nothing *inside* a log was changed; it cannot
//! show that the log an auditor holds is the one the operator had, nor that
//! its tail was not cut off. A signed checkpoint closes that gap: an
//! operator-held Ed25519 key signs (head position, head hash), and the
//! signature goes into the log itself as a `checkpoint.signed` event. Anyone
//! with the public key can then check every checkpoint against the chain —
//! in a store (`verify --checkpoints`) or in an export file
//! (`verify-export`, no database needed).
//!
//! Each checkpoint also signs the root of the log's Merkle tree
//! (`merkle`, RFC 9162; its nodes kept by `merkle_store`), so that one
//! entry's presence, or one log's being a prefix of another, is proved
//! with a few hashes instead of the whole log. Checkpoints are also handed
//! to witnesses outside the database (`witness`), so that a truncation
//! taking its checkpoints with it is caught.

pub mod account_chains;
pub mod chain_rules;
pub mod checkpoint;
pub mod merkle;
pub mod merkle_store;
pub mod offline;
pub mod proof_check;
pub mod proofs;
pub mod tenant_export;
pub mod verify_store;
pub mod witness;
pub mod witness_server;

pub use chain_rules::{Broken, ChainChecker, ExpectedHead, Problem};
pub use verify_store::{
    verify_store, verify_store_with_checkpoints, CheckpointsVerified, Verified, VerifyError,
};
