//! Integrity for auditors: signed checkpoints in the log, and checking an
//! export with nothing but the file and a public key.
//!
//! The hash chain shows that nothing *inside* a log was changed; it cannot
//! show that the log an auditor holds is the one the operator had, nor that
//! its tail was not cut off. A signed checkpoint closes that gap: an
//! operator-held Ed25519 key signs (head position, head hash), and the
//! signature goes into the log itself as a `checkpoint.signed` event. Anyone
//! with the public key can then check every checkpoint against the chain —
//! in a store (`verify --checkpoints`) or in an export file
//! (`verify-export`, no database needed).

pub mod checkpoint;
pub mod offline;
