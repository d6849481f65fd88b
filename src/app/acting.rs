//! Who is acting, as the permission matrix sees them: an account, a role,
//! on a partner the customers they work for — and the events that made it
//! so, which a grant records.
//!
//! A person and a service account are the same thing to the matrix
//! (`domain::service_account`): [`Ledger::acting`] reads either from its
//! stream, so every command and every read — `Ledger::authorize`, the
//! audit visibility, the access view — asks one question whoever asks.

use std::collections::BTreeSet;

use crate::app::context::{Actor, CommandContext, EventRef};
use crate::app::ledger::{Ledger, LedgerError, Loaded};
use crate::domain::account::AccountState;
use crate::domain::email::Email;
use crate::domain::ids::{AccountId, ServiceAccountId, UserId};
use crate::domain::permissions::Relation;
use crate::domain::role::{AccountKind, Role};
use crate::domain::service_account::{self, ServiceAccountEvent, ServiceAccountState};
use crate::domain::user::{self, UserEvent};
use crate::domain::DomainError;

/// An active person or service account, as the matrix needs them.
#[derive(Debug, Clone)]
pub(crate) struct Acting {
    pub(crate) account: AccountId,
    pub(crate) role: Role,
    /// On a partner: the customers they work for (empty: all).
    pub(crate) customers: BTreeSet<AccountId>,
    /// A person's address now (recorded with what they do).
    pub(crate) email: Option<Email>,
    /// A service account's name now.
    pub(crate) name: Option<String>,
    pub(crate) user: Option<UserId>,
    /// The event that gave the role in force.
    pub(crate) role_event: Option<EventRef>,
    /// The event that set the customer limit in force.
    pub(crate) assignment_event: Option<EventRef>,
}

impl Acting {
    /// Whether they work for `customer` of their partner.
    pub(crate) fn works_for(&self, customer: AccountId) -> bool {
        self.customers.is_empty() || self.customers.contains(&customer)
    }

    /// Whether `customer` of their partner exists for them at all. For a
    /// person the matrix decides what an assignment means per role (only
    /// partner `User` staff are confined to theirs); a service account's
    /// customer limit is a hard boundary whatever its role: an integration
    /// limited to some customers does not see the others.
    pub(crate) fn reaches(&self, customer: AccountId) -> bool {
        self.user.is_some() || self.works_for(customer)
    }
}

impl Ledger {
    /// Who `context` names, read from their stream now; `None` for the
    /// system. A deleted user or a deactivated service account acts no
    /// more: unauthenticated.
    pub(crate) async fn acting(
        &self,
        context: &CommandContext,
    ) -> Result<Option<Acting>, LedgerError> {
        match context.actor() {
            Actor::System => Ok(None),
            Actor::User(user) => self.acting_user(user).await.map(Some),
            Actor::Service(key) => self
                .acting_service_account(key.service_account)
                .await
                .map(Some),
        }
    }

    async fn acting_user(&self, actor_id: UserId) -> Result<Acting, LedgerError> {
        let (mut role_event, mut assignment_event) = (None, None);
        let actor = self
            .fold_noting(
                &actor_id.stream(),
                |s, e: &UserEvent, at| user::evolve(s, e, at),
                |e, at| match e {
                    UserEvent::Created { .. }
                    | UserEvent::RoleChanged { .. }
                    | UserEvent::Restored { .. } => role_event = Some(at),
                    UserEvent::CustomersAssigned { .. } => assignment_event = Some(at),
                    _ => {}
                },
            )
            .await?
            .state;
        let (Some(account), Some(role), user::Status::Active) =
            (actor.account_id, actor.role, actor.status)
        else {
            return Err(LedgerError::Unauthenticated);
        };
        Ok(Acting {
            account,
            role,
            customers: actor.assigned_customers,
            email: actor.email,
            name: None,
            user: Some(actor_id),
            role_event,
            assignment_event,
        })
    }

    async fn acting_service_account(&self, id: ServiceAccountId) -> Result<Acting, LedgerError> {
        let (mut role_event, mut assignment_event) = (None, None);
        let state = self
            .fold_noting(
                &id.stream(),
                |s, e: &ServiceAccountEvent, at| service_account::evolve(s, e, at),
                |e, at| match e {
                    ServiceAccountEvent::Created { .. } => {
                        role_event = Some(at);
                        assignment_event = Some(at);
                    }
                    ServiceAccountEvent::Changed {
                        role, customers, ..
                    } => {
                        if role.is_some() {
                            role_event = Some(at);
                        }
                        if customers.is_some() {
                            assignment_event = Some(at);
                        }
                    }
                    _ => {}
                },
            )
            .await?
            .state;
        let (account, role) = state.active().map_err(|_| LedgerError::Unauthenticated)?;
        Ok(Acting {
            account,
            role,
            customers: state.customers,
            email: None,
            name: Some(state.name),
            user: None,
            role_event,
            assignment_event,
        })
    }

    /// How `acting`'s account relates to `target`.
    pub(crate) async fn relation(
        &self,
        acting: &Acting,
        target: &AccountState,
    ) -> Result<Relation, LedgerError> {
        if target.account_id == Some(acting.account) {
            return Ok(Relation::Own);
        }
        let home = self.load_account(acting.account).await?.state;
        Ok(match home.kind {
            // The operator everywhere — also in the partners it invited and
            // the organizations it created directly, whose parent it is:
            // `Customer` is a partner's staff in a partner's customer.
            Some(AccountKind::Platform) => Relation::Platform,
            _ if target.is_customer_of(acting.account) => {
                let customer = target.account_id.ok_or(DomainError::AccountNotFound)?;
                if acting.reaches(customer) {
                    Relation::Customer {
                        assigned: acting.works_for(customer),
                    }
                } else {
                    Relation::Unrelated
                }
            }
            // A partner's staff before the platform that invited the partner.
            Some(AccountKind::Partner)
                if target.kind == Some(AccountKind::Platform)
                    && home.parent.is_some()
                    && home.parent == target.account_id =>
            {
                Relation::Provider
            }
            _ => Relation::Unrelated,
        })
    }

    /// The current state of a service account.
    pub async fn service_account(
        &self,
        id: ServiceAccountId,
    ) -> Result<ServiceAccountState, LedgerError> {
        Ok(self.load_service_account(id).await?.state)
    }

    /// A service account as its events made it, with the version read.
    pub(crate) async fn load_service_account(
        &self,
        id: ServiceAccountId,
    ) -> Result<Loaded<ServiceAccountState>, LedgerError> {
        self.fold(&id.stream(), |s, e: &ServiceAccountEvent, at| {
            service_account::evolve(s, e, at)
        })
        .await
    }
}
