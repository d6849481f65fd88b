//! `IssueApiKey` and `RevokeApiKey`: a service account's credentials.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::ServiceAccountFacts;
use crate::app::command::{Command, Decision, OnEntity, Ran};
use crate::app::context::CommandContext;
use crate::app::ledger::{Authorized, Ledger, LedgerError};
use crate::auth::api_key::ApiKeyToken;
use crate::domain::ids::{ApiKeyId, ServiceAccountId};
use crate::domain::permissions::Action;
use crate::domain::service_account;

/// Records a new key by the hash of its secret. Built by [`issue_key`],
/// which draws the secret.
#[derive(Debug, Clone)]
pub struct IssueApiKey {
    service_account_id: ServiceAccountId,
    key_id: ApiKeyId,
    name: String,
    key_hash: String,
    expires_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
}

impl OnEntity<ServiceAccountId> for IssueApiKey {
    const ACTION: Action = Action::ManageServiceAccounts;

    fn entity(&self) -> ServiceAccountId {
        self.service_account_id
    }
}

impl Command for IssueApiKey {
    type Facts = ServiceAccountFacts;

    fn decide(&self, facts: &ServiceAccountFacts, _: &Authorized) -> Result<Decision, LedgerError> {
        let state = facts.state();
        let events = service_account::decide_issue_key(
            state,
            self.key_id,
            &self.name,
            self.key_hash.clone(),
            self.expires_at,
            self.now,
        )?;
        Ok(super::decision(
            facts,
            self.service_account_id,
            format!("Issued API key {} to {}", self.name.trim(), state.name),
            &events,
        )?
        .target("api_key", self.key_id))
    }
}

/// A key just issued: the only time its secret is known.
#[derive(Debug)]
pub struct IssuedKey {
    pub key_id: ApiKeyId,
    /// The whole key, for `Authorization: Bearer …`; never stored.
    pub secret: String,
    /// The part of the key that names it (not secret): how lists, logs
    /// and a leaked key's finder tell keys apart.
    pub prefix: String,
    pub ran: Ran,
}

/// Draws a key for `service_account_id` and records its hash.
pub async fn issue_key(
    ledger: &Ledger,
    context: &CommandContext,
    service_account_id: ServiceAccountId,
    name: String,
    expires_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<IssuedKey, LedgerError> {
    let key_id = ApiKeyId(Uuid::now_v7());
    let token = ApiKeyToken::generate(service_account_id, key_id)
        .map_err(|e| LedgerError::Randomness(e.to_string()))?;
    let ran = ledger
        .run(
            context,
            IssueApiKey {
                service_account_id,
                key_id,
                name,
                key_hash: token.hash(),
                expires_at,
                now,
            },
        )
        .await?;
    Ok(IssuedKey {
        key_id,
        secret: token.reveal(),
        prefix: token.prefix(),
        ran,
    })
}

#[derive(Debug, Clone)]
pub struct RevokeApiKey {
    pub service_account_id: ServiceAccountId,
    pub key_id: ApiKeyId,
}

impl OnEntity<ServiceAccountId> for RevokeApiKey {
    const ACTION: Action = Action::ManageServiceAccounts;

    fn entity(&self) -> ServiceAccountId {
        self.service_account_id
    }
}

impl Command for RevokeApiKey {
    type Facts = ServiceAccountFacts;

    fn decide(&self, facts: &ServiceAccountFacts, _: &Authorized) -> Result<Decision, LedgerError> {
        let state = facts.state();
        let events = service_account::decide_revoke_key(state, self.key_id)?;
        let name = state.keys.get(&self.key_id).map_or("", |k| k.name.as_str());
        Ok(super::decision(
            facts,
            self.service_account_id,
            format!("Revoked API key {name} of {}", state.name),
            &events,
        )?
        .target("api_key", self.key_id))
    }
}
