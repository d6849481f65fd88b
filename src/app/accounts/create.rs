//! `CreateAccount`: a partner or an organization (or, at bootstrap, the
//! platform).
//!
//! Asked in the parent, recorded in the new account: the platform's admins
//! create organizations (partners come only from the platform's
//! invitation: `invitations/`), a partner's admins organizations of their
//! own, and the system (bootstrap, generated portals, tests) any account. A person must
//! name a parent — an account without one is the platform's alone to have.

use crate::app::command::{Change, Command, Decision, Facts, Permission};
use crate::app::context::{ActivityType, Actor, CommandContext};
use crate::app::ledger::{Authorized, Ledger, LedgerError, Loaded};
use crate::domain::account::{self, AccountState};
use crate::domain::ids::AccountId;
use crate::domain::permissions::{Action, Denied};
use crate::domain::role::AccountKind;
use crate::domain::DomainError;

/// Creates `account_id` of `kind`, under `parent` when given.
#[derive(Debug, Clone)]
pub struct CreateAccount {
    pub account_id: AccountId,
    pub kind: AccountKind,
    pub name: String,
    pub parent: Option<AccountId>,
}

/// The account's stream (empty unless the id is taken) and its parent.
pub struct NewAccountFacts {
    account: Loaded<AccountState>,
    parent: Option<Loaded<AccountState>>,
}

impl Facts<CreateAccount> for NewAccountFacts {
    async fn load(
        ledger: &Ledger,
        context: &CommandContext,
        command: &CreateAccount,
    ) -> Result<Self, LedgerError> {
        if !matches!(context.actor(), Actor::System) && command.parent.is_none() {
            return Err(Denied::Hidden.into());
        }
        let account = ledger.load_account(command.account_id).await?;
        let parent = match command.parent {
            Some(parent) => Some(ledger.load_account(parent).await?),
            None => None,
        };
        Ok(NewAccountFacts { account, parent })
    }

    fn permission(&self, command: &CreateAccount) -> Result<Permission<'_>, LedgerError> {
        let action = match command.kind {
            AccountKind::Partner => Action::InvitePartner,
            _ => Action::CreateOrganization,
        };
        // Without a parent only the system acts (see `load`), and the
        // matrix is not asked of it.
        let asked_in = self.parent.as_ref().unwrap_or(&self.account);
        Ok(Permission::to(action, &asked_in.state).recorded_in(command.account_id))
    }
}

impl Command for CreateAccount {
    type Facts = NewAccountFacts;

    fn decide(
        &self,
        facts: &NewAccountFacts,
        authorized: &Authorized,
    ) -> Result<Decision, LedgerError> {
        // A person brings in a partner only by the platform's invitation
        // (its admin accepts, and the account is created with them); the
        // system (bootstrap, generated portals), which needs no grant, creates
        // any account.
        if self.kind == AccountKind::Partner && authorized.grant.is_some() {
            return Err(DomainError::PartnerNeedsInvitation.into());
        }
        if let Some(parent) = &facts.parent {
            // As for an invitation: the matrix says who may bring in
            // tenants; the parent's kind, which tenants it may own.
            account::check_parent(parent.state.live_kind()?, self.kind)?;
        }
        let events = account::decide_create(
            &facts.account.state,
            self.account_id,
            self.kind,
            &self.name,
            self.parent,
        )?;
        Ok(Decision::new(
            ActivityType::UpdateOrganization,
            format!("Created {:?} account {}", self.kind, self.name),
        )
        .target("account", self.account_id)
        .change(Change::at(
            self.account_id.stream(),
            facts.account.version,
            &events,
        )?))
    }
}
