//! What a command on an existing entity rests on: the entity and the
//! account it belongs to, each at the version read.
//!
//! Tickets, quotes and servers all live in an account and are authorized
//! there; [`InAccount`] is that shape once, so each command type only says
//! which action it asks for and how it decides.

use serde::Serialize;

use crate::app::command::{Change, Decision, Facts, OnEntity, Permission};
use crate::app::context::{ActivityType, CommandContext};
use crate::app::ledger::{Ledger, LedgerError, Loaded};
use crate::domain::account::AccountState;
use crate::domain::ids::{AccountId, LicenseId, QuoteId, TicketId};
use crate::domain::license::LicenseState;
use crate::domain::permissions::Action;
use crate::domain::quote::QuoteState;
use crate::domain::ticket::TicketState;
use crate::domain::DomainError;
use crate::event::StreamId;

/// An entity that lives in an account: how it is read by id, and which
/// account it names.
pub trait AccountEntity: Sized + Send + Sync {
    /// Its id.
    type Id: Copy + Send + Sync;

    /// Reads it from its stream.
    fn read(
        ledger: &Ledger,
        id: Self::Id,
    ) -> impl std::future::Future<Output = Result<(StreamId, Loaded<Self>), LedgerError>> + Send;

    /// The account it belongs to (none: it does not exist).
    fn account(&self) -> Option<AccountId>;
}

impl AccountEntity for LicenseState {
    type Id = LicenseId;

    async fn read(ledger: &Ledger, id: LicenseId) -> Result<(StreamId, Loaded<Self>), LedgerError> {
        Ok((id.stream(), ledger.load_license(id).await?))
    }

    fn account(&self) -> Option<AccountId> {
        self.account_id
    }
}

impl AccountEntity for QuoteState {
    type Id = QuoteId;

    async fn read(ledger: &Ledger, id: QuoteId) -> Result<(StreamId, Loaded<Self>), LedgerError> {
        Ok((id.stream(), ledger.load_quote(id).await?))
    }

    fn account(&self) -> Option<AccountId> {
        self.account_id
    }
}

impl AccountEntity for TicketState {
    type Id = TicketId;

    async fn read(ledger: &Ledger, id: TicketId) -> Result<(StreamId, Loaded<Self>), LedgerError> {
        Ok((id.stream(), ledger.load_ticket(id).await?))
    }

    fn account(&self) -> Option<AccountId> {
        self.account_id
    }
}

/// Every command on an existing license, quote or ticket: the entity and
/// its account are read, and the command's action is asked in that
/// account.
impl<S: AccountEntity, C: OnEntity<S::Id> + Sync> Facts<C> for InAccount<S> {
    async fn load(ledger: &Ledger, _: &CommandContext, command: &C) -> Result<Self, LedgerError> {
        Self::read(ledger, command.entity()).await
    }

    fn permission(&self, _: &C) -> Result<Permission<'_>, LedgerError> {
        Ok(self.asking(C::ACTION))
    }
}

/// An entity (`S`) on its stream, and its account.
pub struct InAccount<S> {
    stream: StreamId,
    pub(crate) entity: Loaded<S>,
    pub(crate) account: Loaded<AccountState>,
}

impl<S: AccountEntity> InAccount<S> {
    /// Reads the entity `id` and its account.
    pub(crate) async fn read(ledger: &Ledger, id: S::Id) -> Result<Self, LedgerError> {
        let (stream, entity) = S::read(ledger, id).await?;
        Self::load(ledger, stream, entity, S::account).await
    }
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
    pub(crate) fn asking(&self, action: Action) -> Permission<'_> {
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
