//! What a caller may read of an entity: one question per thing, asked by
//! every surface that shows it.
//!
//! A user, account, license, server, ticket or quote is shown by several
//! surfaces — its list, its history, its state at a moment. Each used to
//! ask the matrix its own question (a history asked `ViewActivityLog`), so
//! a partner refused every action on a server its customer never granted
//! still read the server's history, and Support, kept away from billing
//! data in the license list, read a license's history with its seats and
//! holders. [`Ledger::authorize_read`] is the one answer: reading an entity
//! is the action its kind names ([`read_action`]) in the account it belongs
//! to, a server also needs, of a partner's staff, the customer's grant as
//! it stands now (as every command on it does), and a user may always read
//! themself.

use crate::app::context::{Actor, CommandContext};
use crate::app::history::Entity;
use crate::app::ledger::{Ledger, LedgerError};
use crate::app::members::MemberKind;
use crate::domain::ids::AccountId;
use crate::domain::permissions::{Action, Denied};
use crate::domain::DomainError;

/// The action that reading an entity of this kind is.
pub fn read_action(entity: Entity) -> Action {
    match entity {
        Entity::User(_) => Action::ViewUsers,
        Entity::Account(_) => Action::ViewAccount,
        // Seats and holders are billing data.
        Entity::License(_) => Action::ViewLicenses,
        Entity::Server(_) => Action::ViewServers,
        Entity::Ticket(_) => Action::ViewTickets,
        Entity::Quote(_) => Action::ViewQuotes,
        Entity::ServiceAccount(_) => Action::ViewServiceAccounts,
    }
}

/// The action that lists the entities of a kind in an account: reading
/// each of them.
pub fn list_action(kind: MemberKind) -> Action {
    match kind {
        MemberKind::User => Action::ViewUsers,
        MemberKind::License => Action::ViewLicenses,
        MemberKind::Server => Action::ViewServers,
        MemberKind::ServiceAccount => Action::ViewServiceAccounts,
    }
}

impl Ledger {
    /// Whether `context`'s actor may read `entity` now; returns the account
    /// it belongs to. An entity that never existed, or one in an account
    /// the caller may not see, is not found.
    pub async fn authorize_read(
        &self,
        context: &CommandContext,
        entity: Entity,
    ) -> Result<AccountId, LedgerError> {
        let account = self
            .account_of(entity)
            .await?
            .ok_or(LedgerError::Denied(Denied::Hidden))?;
        if let (Entity::User(user), Actor::User(actor)) = (entity, context.actor()) {
            if user == actor {
                return Ok(account);
            }
        }
        let authorized = self
            .authorize_in(context, read_action(entity), account)
            .await?;
        if let Entity::Server(server) = entity {
            if authorized.via_partner() && !self.partner_may_read_server(server).await? {
                return Err(DomainError::PartnerAccessNotGranted.into());
            }
        }
        Ok(account)
    }
}

/// How a caller reads an account's list of entities, once the matrix
/// allowed the list's action there.
#[derive(Debug, Clone, Copy)]
pub struct ListScope {
    /// The caller is a partner's staff reading a customer: of its servers
    /// they see only those whose grant stands (what
    /// [`Ledger::authorize_read`] lets them read one by one).
    pub via_partner: bool,
}

impl Ledger {
    /// Whether `context`'s actor may list the entities `action` reads in
    /// `account`, and as whom.
    pub async fn authorize_list(
        &self,
        context: &CommandContext,
        action: Action,
        account: AccountId,
    ) -> Result<ListScope, LedgerError> {
        let authorized = self.authorize_in(context, action, account).await?;
        Ok(ListScope {
            via_partner: authorized.via_partner(),
        })
    }

    /// Whether a partner's staff may read `server` now: its customer's
    /// grant stands (given, and its end, if any, ahead).
    pub async fn partner_may_read_server(
        &self,
        server: crate::domain::ids::ServerId,
    ) -> Result<bool, LedgerError> {
        let state = self.load_server(server).await?.state;
        Ok(state.grant_stands(chrono::Utc::now()))
    }
}
