//! Bulk import of users from a CSV file: parsing and checking, without I/O.
//!
//! An import is one command over many users, and its promise is
//! all-or-nothing: either every row becomes a user (with its role, its
//! e-mail claim and its license seats) or nothing is appended. So a person
//! fixing a spreadsheet needs to see *every* problem of *every* row at once,
//! with the line number their editor shows, not the first refusal. That is
//! why this module does not stop at the first error like a single command's
//! `decide` does:
//!
//! 1. [`parse`] turns the file into [`ParsedRow`]s: the columns that parse
//!    become typed values (`Email`, `Role`, `LicenseId`s, a name), the ones
//!    that do not become [`Problem`]s of the row. Problems of the file itself
//!    (no header, unknown or missing columns, too many rows, too big, not
//!    UTF-8) refuse the whole file with a [`FileError`]: no row could be
//!    trusted to mean what it says.
//! 2. [`decide_import`] checks the rows against the states the application
//!    read from the log ([`ImportState`]: the account, the e-mail claims,
//!    the licenses) and, when no row has a problem, returns the events of
//!    every stream. The rules are the single-user ones: each row is decided
//!    by [`user::decide_create`] and each seat by [`license::decide_assign`]
//!    on states evolved row by row, so the import can never accept what
//!    creating the users one by one would refuse. Those deciders stop at the
//!    first error, so the conditions a row can fail on several columns at
//!    once (role not in the account's kind, address taken, each license) are
//!    looked at one by one first, with the same predicates.
//!
//! Rows are checked in file order, and every row that names a license asks
//! for one of its seats — also a row with other problems, so that fixing
//! those does not reveal a seat shortage later. The rows past a license's
//! free seats are the ones reported.
//!
//! The files: `file.rs` (step 1, reading the CSV file), `decision.rs` (step 2), `problems.rs`
//! (what both report).

mod decision;
mod file;
mod problems;
#[cfg(test)]
mod tests;

pub use decision::*;
pub use file::*;
pub use problems::*;
