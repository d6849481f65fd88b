//! Users: a login that belongs to one account, and the e-mail claims that
//! keep addresses unique.
//!
//! A user command touches up to four kinds of streams — the user's, its
//! account's (when admin rights change), an `email-…` claim (when an address
//! is taken or given back) and a `username-…` claim (likewise for the
//! optional username) — and [`Decision`] carries the events for each, to be
//! appended atomically with the versions the states were read at.
//!
//! The files: `aggregate.rs` (events, state, `evolve`), `claims.rs` (the
//! e-mail and username claims), `decision.rs` (a command's events per
//! stream), `lifecycle.rs` (create, role, profile, customers, delete,
//! restore, purge) and `security.rs` (sessions, passwords, locations,
//! second factor, notification preferences).

mod aggregate;
mod claims;
mod decision;
mod lifecycle;
mod security;
#[cfg(test)]
mod tests;

pub use aggregate::*;
pub use claims::*;
pub use decision::*;
pub use lifecycle::*;
pub use security::*;
