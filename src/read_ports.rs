//! What the application asks of the read models, as traits the
//! projection layer implements (`projection::read_models::ReadModels`).
//!
//! Why a module of its own: the application must not depend on how read
//! models are stored, and the projection layer must not import the
//! application. Both depend on these ports instead, so the layers point one
//! way (see ARCHITECTURE.md, *Layering*).

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::domain::ids::{AccountId, ServerId, UserId};
use crate::domain::notification::Period;
use crate::store::StoreError;

/// The kinds of entity an account holds and lists as of a moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MemberKind {
    User,
    License,
    Server,
    ServiceAccount,
}

impl MemberKind {
    pub const ALL: [MemberKind; 4] = [
        MemberKind::User,
        MemberKind::License,
        MemberKind::Server,
        MemberKind::ServiceAccount,
    ];

    /// As the API and the read model name it.
    pub fn name(self) -> &'static str {
        match self {
            MemberKind::User => "user",
            MemberKind::License => "license",
            MemberKind::Server => "server",
            MemberKind::ServiceAccount => "service_account",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }

    /// The event that creates one, and the payload field holding its id
    /// (the account is the payload's `account_id`).
    pub fn created_by(self) -> (&'static str, &'static str) {
        match self {
            MemberKind::User => ("user.created", "user_id"),
            MemberKind::License => ("license.created", "license_id"),
            MemberKind::Server => ("server.registered", "server_id"),
            MemberKind::ServiceAccount => ("service_account.created", "service_account_id"),
        }
    }
}

/// One entity the index knows, with its creating event's place in the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexedMember {
    pub id: String,
    pub position: u64,
    pub recorded_at: DateTime<Utc>,
}

/// The read model of who was created where.
#[async_trait]
pub trait MemberIndex: Send + Sync {
    /// The position through which the index is complete, and the entities
    /// of `kind` created in `account` at or before it, in log order.
    async fn members(
        &self,
        kind: MemberKind,
        account: AccountId,
    ) -> Result<(u64, Vec<IndexedMember>), StoreError>;
}

pub type SharedMemberIndex = Arc<dyn MemberIndex>;

/// What the partner-grant sweep reads from the read models.
#[async_trait]
pub trait GrantSource: Send + Sync {
    /// The servers whose customer's grant to its partner is given and ends
    /// at or before `by`.
    async fn grants_ending_by(&self, by: DateTime<Utc>) -> Result<Vec<ServerId>, StoreError>;
}

/// What a digest run reads from the read models.
#[async_trait]
pub trait ActivitySource: Send + Sync {
    /// Users who chose digest categories.
    async fn digest_recipients(&self) -> Result<Vec<UserId>, StoreError>;
    /// The customer organizations of a partner (none for others).
    async fn customers_of(&self, account: AccountId) -> Result<Vec<AccountId>, StoreError>;
    /// Activity-log entries per action type in `accounts` during `period`.
    async fn activity_counts(
        &self,
        accounts: &[AccountId],
        period: Period,
    ) -> Result<Vec<(String, u64)>, StoreError>;
}
