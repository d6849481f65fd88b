//! What a user command decides: the events for each stream it touches, to
//! be appended atomically with the versions the states were read at.

use std::collections::BTreeMap;

use super::aggregate::UserEvent;
use super::claims::{EmailEvent, UsernameEvent};
use crate::domain::account::AccountEvent;
use crate::domain::email::Email;
use crate::domain::ids::LicenseId;
use crate::domain::license::{LicenseEvent, LicenseState};
use crate::domain::username::Username;

/// Events for each stream a user command touches.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Decision {
    pub user: Vec<UserEvent>,
    pub account: Vec<AccountEvent>,
    /// Claim events, each for the address it concerns.
    pub email: Vec<(Email, EmailEvent)>,
    /// Username claim events, each for the username it concerns.
    pub username: Vec<(Username, UsernameEvent)>,
    /// Events for license streams (seats released or assigned again).
    pub licenses: Vec<(LicenseId, Vec<LicenseEvent>)>,
    /// Licenses a restore could not assign again (no free seat, cancelled).
    pub licenses_not_restored: Vec<LicenseId>,
    /// The username a restore could not claim again (taken meanwhile).
    pub username_not_restored: Option<Username>,
}

/// The states of the licenses a command concerns, by id.
pub type Licenses = BTreeMap<LicenseId, LicenseState>;
