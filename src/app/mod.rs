//! The application layer: where the pure domain meets the store.
//!
//! A command here is: authorize the actor (the permission matrix), load the
//! states it needs from their streams, `decide`, and append the events to
//! every stream involved in one atomic append whose expectations are the
//! versions just read. If another command moved one of those streams in the
//! meantime, the append fails with a conflict and the command is decided
//! again on the new state (a bounded number of times). That is how domain
//! invariants hold under concurrency without locks in the domain.
//!
//! That pipeline is written once, in [`command`]: an action is a value
//! implementing [`Command`] and [`Ledger::run`] executes it. Areas whose
//! actions are command types live in a folder per area (`accounts/`,
//! `users/`, `invitations/`, `servers/`, `tickets/`, `quotes/`,
//! `partner_kit/`, `licenses/`); signing in and out, accepting an
//! invitation and CSV imports still have a method per action on
//! `Ledger`/`Auth`, moving over.

pub mod access;
pub mod accounts;
pub(crate) mod acting;
pub mod audit;
pub mod command;
pub mod context;
pub mod facts;
pub mod history;
pub mod invitations;
pub mod ledger;
pub mod licenses;
pub mod members;
pub mod notifications;
pub mod partner_grants;
pub mod partner_kit;
pub mod quotes;
pub mod reading;
pub mod retention;
pub mod servers;
pub mod service_accounts;
pub mod sessions;
pub(crate) mod stream_cache;
pub mod tickets;
pub mod user_import;
pub mod users;

pub use command::{Command, Ran};
pub use context::{Actor, CommandContext};
pub use ledger::{Ledger, LedgerError};
