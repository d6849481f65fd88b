//! portal-ledger: an event-sourced, audit-first backend for partner portals.
//!
//! `ARCHITECTURE.md` is the map and `schema/LOG_FORMAT.md` the log's
//! byte-for-byte specification. The modules, from the log up:
//!
//! - [`event`] the envelope and its newtypes ([`json_numbers`]: numbers
//!   kept exactly or refused); [`chain`] the canonical bytes
//!   and the hash chain; [`store`] the store contract and its embedded and
//!   PostgreSQL backends; [`backend`] which one a process opens.
//! - [`integrity`] the chain rules, checked over a store or an export file,
//!   and signed checkpoints; [`transfer`] NDJSON export and import.
//! - [`domain`] the pure domain (events, `evolve`, `decide`, the permission
//!   matrix); [`app`] commands as values and the one pipeline that runs
//!   them, plus the reads that fold the log.
//! - [`privacy`] sealing personal fields and crypto-shredding; [`auth`]
//!   passwords, tokens and the sign-in throttle; [`notify`] outgoing
//!   e-mail; [`idempotency`] remembered answers to retried requests.
//! - [`projection`] projectors, their stores, leases, rebuilds and checksums;
//!   [`read_ports`] what the application asks of the read models.
//! - [`http`] the HTTP edge; [`service`] a backend wired into the HTTP
//!   state, as `serve` and the tests build it; [`telemetry`] metrics and log output;
//!   [`cli`] the command line that wires a process; [`generate`]
//!   deterministic portals for tests and benches.

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
pub mod json_numbers;
pub mod notify;
pub mod privacy;
pub mod projection;
pub mod read_ports;
pub mod service;
pub mod store;
pub mod telemetry;
pub mod transfer;
