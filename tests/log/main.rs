//! The log itself, one binary: the store contract on both backends, its
//! behaviour under concurrency, tampering and crashes (real processes), and
//! export / import, verification and signed checkpoints.

#[macro_use]
#[path = "../support/mod.rs"]
mod support;

mod concurrency;
mod conformance;
mod crash;
mod independent;
mod integrity;
mod proofs;
mod tampering;
mod tenant_export;
mod transfer;
