//! Moving a log in and out as NDJSON: one envelope per line, with exactly
//! the envelope's field names (see schema/LOG_FORMAT.md).
//!
//! Export and import are each other's inverse: exporting a store and
//! importing the file into an empty store gives identical positions and
//! hashes. Import also takes histories from legacy systems (lines without
//! `position`, `prev_hash` and `hash`), which it numbers and hashes.

pub mod export;
pub mod import;
pub mod keys;
