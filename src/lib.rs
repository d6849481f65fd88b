//! portal-ledger: an event-sourced, audit-first backend for partner portals.
//!
//! Start with `ARCHITECTURE.md` for the map. In short: [`event`] defines the
//! envelope, [`chain`] the hash chain, [`store`] the store contract and its
//! embedded and PostgreSQL backends, [`verify`] the integrity rules,
//! [`transfer`] NDJSON export and import, [`http`] the HTTP edge and [`cli`]
//! the command line that ties them together.

pub mod app;
pub mod auth;
pub mod backend;
pub mod chain;
pub mod cli;
pub mod domain;
pub mod event;
pub mod generate;
pub mod http;
pub mod idempotency;
pub mod integrity;
pub mod notify;
pub mod privacy;
pub mod projection;
pub mod store;
pub mod telemetry;
pub mod transfer;
pub mod verify;
