//! `CreateAccount`: a partner or an organization (or, at bootstrap, the
//! platform).
//!
//! Asked in the parent, recorded in the new account: the platform's admins
//! create partners and organizations, a partner's admins organizations of
//! their own, and the system (bootstrap, tests) any account. A person must
//! name a parent — an account without one is the platform's alone to have.

use crate::app::command::{Change, Command, Decision, Permission};
use crate::app::context::{ActivityType, Actor, CommandContext};
use crate::app::ledger::{Authorized, Ledger, LedgerError, Loaded};
use crate::domain::account::{self, AccountState};
use crate::domain::ids::AccountId;
use crate::domain::permissions::{Action, Denied};
use crate::domain::role::AccountKind;

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

impl Command for CreateAccount {
    type Facts = NewAccountFacts;
    type Output = ();

    async fn load(
        &self,
        ledger: &Ledger,
        context: &CommandContext,
    ) -> Result<NewAccountFacts, LedgerError> {
        if matches!(context.actor(), Actor::User(_)) && self.parent.is_none() {
            return Err(Denied::Hidden.into());
        }
        let account = ledger.load_account(self.account_id).await?;
        let parent = match self.parent {
            Some(parent) => Some(ledger.load_account(parent).await?),
            None => None,
        };
        Ok(NewAccountFacts { account, parent })
    }

    fn permission<'f>(&self, facts: &'f NewAccountFacts) -> Result<Permission<'f>, LedgerError> {
        let action = match self.kind {
            AccountKind::Partner => Action::InvitePartner,
            _ => Action::CreateOrganization,
        };
        // Without a parent only the system acts (see `load`), and the
        // matrix is not asked of it.
        let asked_in = facts.parent.as_ref().unwrap_or(&facts.account);
        Ok(Permission::to(action, &asked_in.state).recorded_in(self.account_id))
    }

    fn decide(&self, facts: &NewAccountFacts, _: &Authorized) -> Result<Decision, LedgerError> {
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
