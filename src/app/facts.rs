//! What a command on an existing entity rests on: the entity and the
//! account it belongs to, each at the version read.
//!
//! Tickets, quotes and servers all live in an account and are authorized
//! there; [`InAccount`] is that shape once, so each command type only says
//! which action it asks for and how it decides.

use serde::Serialize;

use crate::app::command::{Change, Decision, Permission};
use crate::app::context::ActivityType;
use crate::app::ledger::{Ledger, LedgerError, Loaded};
use crate::domain::account::AccountState;
use crate::domain::ids::AccountId;
use crate::domain::permissions::Action;
use crate::domain::DomainError;
use crate::event::StreamId;

/// An entity (`S`) on its stream, and its account.
pub struct InAccount<S> {
    stream: StreamId,
    pub(crate) entity: Loaded<S>,
    pub(crate) account: Loaded<AccountState>,
}

impl<S: Sync> InAccount<S> {
    /// Reads the account of `entity` (read from `stream`); an entity that
    /// names no account does not exist.
    pub(crate) async fn load(
        ledger: &Ledger,
        stream: StreamId,
        entity: Loaded<S>,
        account_of: impl Fn(&S) -> Option<AccountId>,
    ) -> Result<Self, LedgerError> {
        let account_id = account_of(&entity.state).ok_or(DomainError::NotFound)?;
        let account = ledger.load_account(account_id).await?;
        Ok(Self {
            stream,
            entity,
            account,
        })
    }

    /// The entity as it stands.
    pub(crate) fn state(&self) -> &S {
        &self.entity.state
    }

    /// `action` in the entity's account.
    pub(crate) fn permission(&self, action: Action) -> Permission<'_> {
        Permission::to(action, &self.account.state)
    }

    /// `events` on the entity's stream, explained as `activity` and
    /// targeting the entity as `kind` `id`.
    pub(crate) fn decision<E: Serialize>(
        &self,
        activity: ActivityType,
        description: String,
        target: (&'static str, String),
        events: &[E],
    ) -> Result<Decision, LedgerError> {
        Ok(Decision::new(activity, description)
            .target(target.0, target.1)
            .change(Change::at(
                self.stream.clone(),
                self.entity.version,
                events,
            )?))
    }
}
