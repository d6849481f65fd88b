//! The application through the ledger, one binary: commands, their
//! decisions and their reads, per area, on both backends.

#[macro_use]
#[path = "../support/mod.rs"]
mod support;

mod erasure;
mod invitations;
mod licenses;
mod notifications;
mod retention;
mod schema_evolution;
mod sessions;
mod time_travel;
mod users;
