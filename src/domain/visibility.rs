//! Which accounts a caller may audit, as a value: decided once per request
//! by the application (`app::audit`, from the permission matrix) and kept
//! to by every read that searches across accounts (the activity search in
//! `projection::activity_search`).

use crate::domain::ids::AccountId;

/// The accounts a caller may audit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Visibility {
    /// Every account (the platform's staff with the right).
    All,
    /// These accounts only (never empty).
    Accounts(Vec<AccountId>),
}

impl Visibility {
    pub fn allows(&self, account: AccountId) -> bool {
        match self {
            Visibility::All => true,
            Visibility::Accounts(accounts) => accounts.contains(&account),
        }
    }
}
