//! The read side, one binary: projectors and their tables, live rebuilds
//! and checksums, leased worker processes (real processes).

#[macro_use]
#[path = "../support/mod.rs"]
mod support;

mod projections;
mod rebuild;
mod workers;
