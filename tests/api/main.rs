//! The HTTP API, one binary: a file per resource, each test with its own
//! app spawned by the library function `serve` uses (`support::http`), on
//! both backends.

#[macro_use]
#[path = "../support/mod.rs"]
mod support;

mod activity;
mod authorization;
mod checkpoints;
mod event_types;
mod http_api;
mod invitations;
mod licenses;
mod notifications;
mod paging;
mod partner_grants;
mod partner_kit;
mod quotes;
mod rate_limits;
mod read_side;
mod servers;
mod service_accounts;
mod sessions;
mod telemetry;
mod tenancy;
mod tickets;
mod user_import;
mod users;
