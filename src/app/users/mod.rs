//! User commands: create a user, change a role, edit a profile, assign a
//! partner's staff member to customers, delete, restore, purge; and what
//! only touches the user's own stream: passwords recorded, sessions ended,
//! trusted login locations and their e-mailed challenges, digest settings.
//!
//! A user is an aggregate of its own, but most of its invariants reach
//! further: an address or username is unique among live users (a claim
//! stream per address and per username, read and appended with the
//! user's), an account keeps an active admin (the account's stream), and a
//! deleted user's seats go back to their licenses (each license's stream).
//! [`UserFacts`] reads exactly the streams a command names in [`Reads`],
//! and [`UserFacts::decision`] turns the domain's multi-stream
//! [`user::Decision`] into one append expecting each stream at the version
//! read — so a race on any of them decides the command again.

mod assign_customers;
mod change_role;
mod create;
mod delete;
mod force_logout;
mod locations;
mod notification_preferences;
mod password;
mod purge;
mod restore;
mod update_profile;

pub use assign_customers::AssignCustomers;
pub use change_role::ChangeRole;
pub use create::CreateUser;
pub use delete::DeleteUser;
pub use force_logout::ForceLogout;
pub use locations::{ChallengeLocation, PassChallenge, SetLocationTrust};
pub use notification_preferences::SetNotificationPreferences;
pub use password::RecordPassword;
pub use purge::PurgeUser;
pub use restore::{NotRestored, RestoreUser};
pub use update_profile::UpdateProfile;

use std::collections::BTreeMap;

use chrono::Duration;
use serde::Serialize;

use crate::app::command::{Change, Decision, Facts, Permission};
use crate::app::context::{ActivityType, CommandContext};
use crate::app::ledger::{by_claim_stream, display_email, Ledger, LedgerError, Loaded};
use crate::domain::account::AccountState;
use crate::domain::email::Email;
use crate::domain::ids::{AccountId, LicenseId, UserId};
use crate::domain::permissions::Action;
use crate::domain::user::{self, EmailClaim, Licenses, UserState, UsernameClaim};
use crate::domain::username::Username;
use crate::domain::DomainError;
use crate::event::StreamId;

/// A command on an existing user, as this area names it: the user, the
/// streams read beside it and the action asked. [`UserFacts`] answers for
/// every one of them (the one impl below), so loading the user's streams
/// and asking the matrix in the user's account are written once; each
/// command's [`Command`] impl only decides.
pub trait UserCommand: Send + Sync {
    /// The user acted on.
    fn user(&self) -> UserId;

    /// The streams read beside the user and its account.
    fn reads(&self) -> Reads {
        Reads::default()
    }

    /// The action asked of the matrix in the user's account.
    fn action(&self, facts: &UserFacts) -> Action;
}

impl<C: UserCommand> Facts<C> for UserFacts {
    async fn load(
        ledger: &Ledger,
        context: &CommandContext,
        command: &C,
    ) -> Result<Self, LedgerError> {
        Self::read(ledger, context, command.user(), command.reads()).await
    }

    fn permission(&self, command: &C) -> Result<Permission<'_>, LedgerError> {
        Ok(self.asking(command.action(self)))
    }
}

/// Which streams beside the user and its account a command reads.
#[derive(Debug, Clone, Default)]
pub struct Reads {
    email: ClaimOf,
    username: UsernameOf,
    licenses: LicensesOf,
}

/// Which e-mail claim a user command reads.
#[derive(Debug, Clone, Default)]
enum ClaimOf {
    #[default]
    None,
    /// The claim of a new address.
    Address(Email),
    /// The claim of the user's current address (restore).
    Current,
}

/// Which username claim a user command reads.
#[derive(Debug, Clone, Default)]
enum UsernameOf {
    #[default]
    None,
    /// The claim of a new username.
    Name(Username),
    /// The claim of the user's current username (restore).
    Current,
}

/// Which licenses a user command reads.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum LicensesOf {
    #[default]
    None,
    /// Those the user holds now (delete releases them).
    Held,
    /// Those the user held when deleted (restore assigns them again).
    HeldAtDeletion,
}

/// What a command on an existing user rests on: the user, its account, and
/// the claims and licenses named in [`Reads`], each at the version read.
pub struct UserFacts {
    user_id: UserId,
    user: Loaded<UserState>,
    account: Loaded<AccountState>,
    email: Option<(Email, Loaded<EmailClaim>)>,
    username: Option<(Username, Loaded<UsernameClaim>)>,
    licenses: Licenses,
    license_versions: BTreeMap<LicenseId, u64>,
    /// How long a deleted user can be restored (the ledger's setting).
    retention: Duration,
    /// The actor is this user (editing oneself is a permission of its own).
    own: bool,
}

impl UserFacts {
    async fn read(
        ledger: &Ledger,
        context: &CommandContext,
        user_id: UserId,
        reads: Reads,
    ) -> Result<Self, LedgerError> {
        let (user, account) = ledger.load_user_and_account(user_id).await?;
        let address = match reads.email {
            ClaimOf::None => None,
            ClaimOf::Address(email) => Some(email),
            ClaimOf::Current => user.state.email.clone(),
        };
        let email = match address {
            Some(address) => {
                let claim = ledger.load_claim(&address).await?;
                Some((address, claim))
            }
            None => None,
        };
        let name = match reads.username {
            UsernameOf::None => None,
            UsernameOf::Name(username) => Some(username),
            UsernameOf::Current => user.state.username.clone(),
        };
        let username = match name {
            Some(name) => {
                let claim = ledger.load_username_claim(&name).await?;
                Some((name, claim))
            }
            None => None,
        };
        let held: Vec<LicenseId> = match reads.licenses {
            LicensesOf::None => Vec::new(),
            LicensesOf::Held => user.state.licenses.iter().copied().collect(),
            LicensesOf::HeldAtDeletion => user.state.licenses_at_deletion.clone(),
        };
        let (mut licenses, mut license_versions) = (Licenses::new(), BTreeMap::new());
        for id in held {
            let loaded = ledger.load_license(id).await?;
            license_versions.insert(id, loaded.version);
            licenses.insert(id, loaded.state);
        }
        Ok(Self {
            user_id,
            user,
            account,
            email,
            username,
            licenses,
            license_versions,
            retention: ledger.retention,
            own: context.actor == Some(user_id),
        })
    }

    /// The user as it stands.
    fn state(&self) -> &UserState {
        &self.user.state
    }

    /// The user's account as it stands.
    fn account(&self) -> &AccountState {
        &self.account.state
    }

    /// The e-mail claim read (unclaimed if none was).
    fn email_claim(&self) -> EmailClaim {
        self.email
            .as_ref()
            .map(|(_, c)| c.state)
            .unwrap_or_default()
    }

    /// The username claim read (unclaimed if none was).
    fn username_claim(&self) -> UsernameClaim {
        self.username
            .as_ref()
            .map(|(_, c)| c.state)
            .unwrap_or_default()
    }

    /// `action` in the user's account.
    fn asking(&self, action: Action) -> Permission<'_> {
        Permission::to(action, &self.account.state)
    }

    /// `action` — or, when the actor is the user, editing their own
    /// profile.
    fn unless_own(&self, action: Action) -> Action {
        if self.own {
            Action::UpdateOwnProfile
        } else {
            action
        }
    }

    /// The user as the activity log names them.
    fn shown(&self) -> String {
        display_email(&self.user.state)
    }

    /// The domain's decision as one append, explained as `activity`.
    fn decision(
        &self,
        activity: ActivityType,
        description: String,
        decided: user::Decision,
    ) -> Result<Decision, LedgerError> {
        let read = Read {
            user: (self.user_id, self.user.version),
            account: (self.account.state.account_id, self.account.version),
            emails: self.email.iter().map(|(e, c)| (e, c.version)).collect(),
            usernames: self.username.iter().map(|(u, c)| (u, c.version)).collect(),
            licenses: &self.license_versions,
        };
        user_decision(activity, description, decided, &read)
    }
}

/// The streams a user decision was read from, at their versions.
pub(crate) struct Read<'a> {
    pub(crate) user: (UserId, u64),
    pub(crate) account: (Option<AccountId>, u64),
    pub(crate) emails: Vec<(&'a Email, u64)>,
    pub(crate) usernames: Vec<(&'a Username, u64)>,
    pub(crate) licenses: &'a BTreeMap<LicenseId, u64>,
}

/// One change per stream the domain decided on, in a fixed order (the
/// user's stream first: its first event carries the activity entry), each
/// expected at the version read; a claim that was not read (an old address
/// released) is appended whatever its version.
fn user_decision(
    activity: ActivityType,
    description: String,
    decided: user::Decision,
    read: &Read<'_>,
) -> Result<Decision, LedgerError> {
    let decision = Decision::new(activity, description).target("user", read.user.0);
    with_user_changes(decision, decided, read)
}

/// Adds to `decision` the changes of a user decision, in the order
/// [`user_decision`] gives them (accepting an invitation appends them
/// after the invitation's).
pub(crate) fn with_user_changes(
    decision: Decision,
    decided: user::Decision,
    read: &Read<'_>,
) -> Result<Decision, LedgerError> {
    let (user_id, user_version) = read.user;
    let mut decision = decision.change(Change::at(user_id.stream(), user_version, &decided.user)?);
    if !decided.account.is_empty() {
        let (account_id, version) = read.account;
        let account_id = account_id.ok_or(DomainError::AccountNotFound)?;
        decision = decision.change(Change::at(account_id.stream(), version, &decided.account)?);
    }
    for (stream, (version, events)) in
        by_claim_stream(decided.email, &read.emails, Email::claim_stream)
    {
        decision = decision.change(claim_change(stream, version, &events)?);
    }
    for (license_id, events) in decided.licenses {
        let version = read.licenses.get(&license_id).copied().unwrap_or(0);
        decision = decision.change(Change::at(license_id.stream(), version, &events)?);
    }
    for (stream, (version, events)) in
        by_claim_stream(decided.username, &read.usernames, Username::claim_stream)
    {
        decision = decision.change(claim_change(stream, version, &events)?);
    }
    Ok(decision)
}

/// A claim stream's events, expected at the version read, or — not read —
/// whatever its version (see [`by_claim_stream`]).
fn claim_change<E: Serialize>(
    stream: StreamId,
    version: Option<u64>,
    events: &[E],
) -> Result<Change, LedgerError> {
    match version {
        Some(version) => Change::at(stream, version, events),
        None => Change::unread(stream, events),
    }
}
