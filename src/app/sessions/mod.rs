//! Signing in and out, authenticating a request, passwords, force logout,
//! and bootstrapping an empty store.
//!
//! Authentication reads the session's and the user's streams directly, not a
//! projection, so a revocation (force logout, own password or e-mail change,
//! deletion) takes effect on the very next request.

mod close;
mod open;

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use thiserror::Error;
use uuid::Uuid;

use crate::app::accounts::CreateAccount;
use crate::app::context::{CommandContext, KeyUse};
use crate::app::ledger::{Ledger, LedgerError};
use crate::app::users::{self, CreateUser};
use crate::auth::api_key::ApiKeyToken;
use crate::auth::credentials::SharedCredentials;
use crate::auth::key_uses::KeyUseRecorder;
use crate::auth::password::{self, Password, PasswordError};
use crate::auth::throttle::SignInThrottle;
use crate::auth::token::SecretToken;
use crate::domain::email::Email;
use crate::domain::ids::{AccountId, SessionId, UserId};
use crate::domain::invitation;
use crate::domain::permissions::Action;
use crate::domain::role::{AccountKind, Role};
use crate::domain::service_account::KeyRefusal;
use crate::domain::user::{self, NewUser, Origin};
use crate::domain::DomainError;
use crate::notify::SharedNotifier;
use crate::store::{AppendOutcome, StoreError};
use close::CloseSession;
use open::OpenSession;

/// How long a session lasts unless configured otherwise.
pub const DEFAULT_SESSION_TTL_HOURS: i64 = 12;

#[derive(Debug, Error)]
pub enum AuthError {
    /// Unknown e-mail, wrong password, or a user who may not sign in — one
    /// answer for all, so sign-in does not reveal which addresses exist.
    #[error("invalid e-mail or password")]
    InvalidCredentials,
    /// No, malformed, unknown, expired, closed or revoked session token.
    #[error("not signed in or the session has ended")]
    Unauthenticated,
    /// The password was right but the address is not a trusted location:
    /// a code was e-mailed; sign in again with it.
    #[error(
        "sign-in from a new location: a code was sent by e-mail; sign in again with it as `code`"
    )]
    SecondFactorRequired,
    /// Too many failed sign-ins for this address lately.
    #[error("too many failed sign-ins for this address; try again in {retry_after} seconds")]
    TooManyAttempts { retry_after: i64 },
    /// Malformed, unknown, or not matching its key's secret.
    #[error("not a valid API key")]
    InvalidApiKey,
    #[error("this API key has expired; issue a new one")]
    ApiKeyExpired,
    #[error("this API key, or its service account, was revoked")]
    ApiKeyRevoked,
    #[error("the store already holds events; bootstrap only works on an empty store")]
    NotEmpty,
    #[error(transparent)]
    Password(#[from] PasswordError),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

impl From<StoreError> for AuthError {
    fn from(e: StoreError) -> Self {
        AuthError::Ledger(e.into())
    }
}

/// The signed-in user behind a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Principal {
    pub user_id: UserId,
    pub account_id: AccountId,
    pub session_id: SessionId,
}

/// What a request authenticates with: a person's session or a service
/// account's API key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential {
    Session(Principal),
    ApiKey {
        key: KeyUse,
        /// The service account's account.
        account_id: AccountId,
    },
}

impl Credential {
    /// The account the caller belongs to.
    pub fn account_id(&self) -> AccountId {
        match self {
            Credential::Session(p) => p.account_id,
            Credential::ApiKey { account_id, .. } => *account_id,
        }
    }

    /// The person calling (none: a service account).
    pub fn user_id(&self) -> Option<UserId> {
        match self {
            Credential::Session(p) => Some(p.user_id),
            Credential::ApiKey { .. } => None,
        }
    }

    /// The person's session; a service account has none.
    pub fn session(&self) -> Result<&Principal, DomainError> {
        match self {
            Credential::Session(p) => Ok(p),
            Credential::ApiKey { .. } => Err(DomainError::PersonRequired),
        }
    }

    /// The command context of a request made with this credential.
    pub fn acting_in(&self, mut context: CommandContext) -> CommandContext {
        match self {
            Credential::Session(p) => context.actor = Some(p.user_id),
            Credential::ApiKey { key, .. } => context.service = Some(*key),
        }
        context
    }
}

/// A new session.
#[derive(Debug, Clone)]
pub struct SignedIn {
    /// The bearer token: shown once, stored only hashed.
    pub token: String,
    pub session_id: SessionId,
    pub user_id: UserId,
    pub account_id: AccountId,
    pub expires_at: DateTime<Utc>,
    pub position: u64,
}

/// Sign-in, sessions and passwords on top of the ledger.
#[derive(Clone)]
pub struct Auth {
    pub(crate) ledger: Ledger,
    pub(crate) credentials: SharedCredentials,
    throttle: Arc<SignInThrottle>,
    key_uses: Arc<KeyUseRecorder>,
    session_ttl: Duration,
    pub(crate) invitation_ttl: Duration,
}

impl Auth {
    pub fn new(ledger: Ledger, credentials: SharedCredentials) -> Self {
        Self {
            ledger,
            credentials,
            throttle: Arc::new(SignInThrottle::default()),
            key_uses: Arc::new(KeyUseRecorder::default()),
            session_ttl: Duration::hours(DEFAULT_SESSION_TTL_HOURS),
            invitation_ttl: Duration::days(invitation::DEFAULT_VALID_DAYS),
        }
    }

    /// Where e-mails go (default: the log output).
    pub fn with_notifier(mut self, notifier: SharedNotifier) -> Self {
        self.ledger = self.ledger.with_notifier(notifier);
        self
    }

    /// How long an invitation stays valid.
    pub fn with_invitation_ttl(mut self, ttl: Duration) -> Self {
        self.invitation_ttl = ttl;
        self
    }

    pub fn with_session_ttl(mut self, ttl: Duration) -> Self {
        self.session_ttl = ttl;
        self
    }

    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    /// Signs in with e-mail and password and opens a session.
    pub async fn sign_in(
        &self,
        context: &CommandContext,
        email: &str,
        candidate: &str,
        now: DateTime<Utc>,
    ) -> Result<SignedIn, AuthError> {
        self.sign_in_with_code(context, email, candidate, None, now)
            .await
    }

    /// [`sign_in`](Self::sign_in) with IP-based 2FA: once a user has trusted
    /// locations, a sign-in from elsewhere e-mails a code and fails with
    /// [`AuthError::SecondFactorRequired`]; signing in again from there with
    /// the code trusts the location and opens the session.
    pub async fn sign_in_with_code(
        &self,
        context: &CommandContext,
        email: &str,
        candidate: &str,
        code: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<SignedIn, AuthError> {
        let key = email.trim().to_lowercase();
        self.throttle
            .check(&key, now)
            .map_err(|retry_after| AuthError::TooManyAttempts { retry_after })?;
        let result = self
            .sign_in_checked(context, email, candidate, code, now)
            .await;
        match &result {
            Ok(_) => self.throttle.succeeded(&key),
            Err(AuthError::InvalidCredentials)
            | Err(AuthError::Ledger(LedgerError::Domain(DomainError::InvalidSecondFactor))) => {
                self.throttle.failed(&key, now)
            }
            Err(_) => {}
        }
        result
    }

    async fn sign_in_checked(
        &self,
        context: &CommandContext,
        email: &str,
        candidate: &str,
        code: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<SignedIn, AuthError> {
        let email = Email::parse(email).map_err(|_| AuthError::InvalidCredentials)?;
        let holder = self.ledger.load_claim(&email).await?.state.holder;
        let user_id = holder.ok_or(AuthError::InvalidCredentials)?;
        let user = self.ledger.load_user(user_id).await?.state;
        let stored = self.credentials.get(user_id).await?;
        // Verify even when there is nothing to verify against, so timing
        // does not tell which addresses have a password.
        let stored = stored.unwrap_or_default();
        let password_ok = tokio::task::spawn_blocking({
            let candidate = candidate.to_owned();
            move || password::verify(&candidate, &stored)
        })
        .await
        .unwrap_or(false);
        let (account_id, role) = user.active().map_err(|_| AuthError::InvalidCredentials)?;
        let account_live = self.ledger.load_account(account_id).await?.state.exists();
        if !password_ok || !role.can_sign_in() || !account_live {
            return Err(AuthError::InvalidCredentials);
        }
        let ip = context
            .ip
            .as_deref()
            .and_then(|ip| user::parse_location(ip).ok());
        if user::needs_second_factor(&user, ip.as_deref()) {
            let ip = ip.ok_or(AuthError::SecondFactorRequired)?;
            let acting = CommandContext {
                actor: Some(user_id),
                ..context.clone()
            };
            match code {
                None => {
                    self.challenge_location(&acting, user_id, &ip, now).await?;
                    return Err(AuthError::SecondFactorRequired);
                }
                Some(code) => {
                    let pass = users::PassChallenge {
                        user_id,
                        ip: ip.clone(),
                        code_hash: code_hash(code),
                        now,
                    };
                    self.ledger.run(&acting, pass).await?;
                }
            }
        }
        let token = SecretToken::generate().map_err(|e| PasswordError::Hashing(e.to_string()))?;
        let expires_at = now + self.session_ttl;
        let session_id = SessionId(token.id);
        let context = CommandContext {
            actor: Some(user_id),
            ..context.clone()
        };
        let open = OpenSession {
            session_id,
            user_id,
            account_id,
            token_hash: token.hash(),
            expires_at,
        };
        let outcome = self.ledger.run(&context, open).await?.outcome;
        Ok(SignedIn {
            token: token.reveal(),
            session_id,
            user_id,
            account_id,
            expires_at,
            position: outcome.last_position(),
        })
    }

    /// Records the challenge and e-mails its code (only the hash is logged).
    async fn challenge_location(
        &self,
        context: &CommandContext,
        user_id: UserId,
        ip: &str,
        now: DateTime<Utc>,
    ) -> Result<(), AuthError> {
        let mut bytes = [0u8; 5];
        getrandom::fill(&mut bytes).map_err(|e| PasswordError::Hashing(e.to_string()))?;
        let code = hex::encode_upper(bytes);
        let expires_at = now + Duration::minutes(SIGN_IN_CODE_MINUTES);
        let challenge = users::ChallengeLocation {
            user_id,
            ip: ip.to_owned(),
            code_hash: code_hash(&code),
            code,
            expires_at,
        };
        self.ledger.run(context, challenge).await?;
        Ok(())
    }

    /// The signed-in user behind a bearer token, checked against the log.
    pub async fn authenticate(
        &self,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<Principal, AuthError> {
        let token = SecretToken::parse(token).map_err(|_| AuthError::Unauthenticated)?;
        let session_id = SessionId(token.id);
        let session = self.ledger.load_session(session_id).await?.state;
        if !token.matches(&session.token_hash) {
            return Err(AuthError::Unauthenticated);
        }
        let (user_id, opened_at) = session.open_at(now).ok_or(AuthError::Unauthenticated)?;
        let user = self.ledger.load_user(user_id).await?.state;
        if !user.accepts_session_opened_at(opened_at) {
            return Err(AuthError::Unauthenticated);
        }
        let (account_id, _) = user.active().map_err(|_| AuthError::Unauthenticated)?;
        if !self.ledger.load_account(account_id).await?.state.exists() {
            return Err(AuthError::Unauthenticated);
        }
        Ok(Principal {
            user_id,
            account_id,
            session_id,
        })
    }

    /// The service account behind an API key, checked against the log
    /// (its stream: the key's hash, expiry and revocation, the service
    /// account's state) and its account; records the use.
    pub async fn authenticate_key(
        &self,
        key: &str,
        now: DateTime<Utc>,
    ) -> Result<Credential, AuthError> {
        let token = ApiKeyToken::parse(key).map_err(|_| AuthError::InvalidApiKey)?;
        let service_account = self
            .ledger
            .load_service_account(token.service_account)
            .await?
            .state;
        let (account_id, _) = service_account
            .admits(token.key, now, |hash| token.matches(hash))
            .map_err(|refusal| match refusal {
                KeyRefusal::Unknown => AuthError::InvalidApiKey,
                KeyRefusal::Expired => AuthError::ApiKeyExpired,
                KeyRefusal::Revoked => AuthError::ApiKeyRevoked,
            })?;
        if !self.ledger.load_account(account_id).await?.state.exists() {
            return Err(AuthError::ApiKeyRevoked);
        }
        if self.key_uses.due(token.key, now) {
            // When it was last used is for people's eyes; a failed write
            // must not refuse the request.
            if let Err(e) = self.credentials.record_use(token.key, now).await {
                tracing::warn!(error = %e, "could not record an API key's use");
            }
        }
        Ok(Credential::ApiKey {
            key: KeyUse {
                service_account: token.service_account,
                key: token.key,
            },
            account_id,
        })
    }

    /// Closes the session of `principal`.
    pub async fn sign_out(
        &self,
        context: &CommandContext,
        principal: &Principal,
    ) -> Result<AppendOutcome, AuthError> {
        let close = CloseSession {
            principal: *principal,
        };
        Ok(self.ledger.run(context, close).await?.outcome)
    }

    /// Changes one's own password: the current one must match; every
    /// session ends.
    pub async fn change_own_password(
        &self,
        context: &CommandContext,
        current: &str,
        new: &Password,
        now: DateTime<Utc>,
    ) -> Result<AppendOutcome, AuthError> {
        let user_id = context.actor.ok_or(AuthError::Unauthenticated)?;
        let stored = self.credentials.get(user_id).await?.unwrap_or_default();
        let current = current.to_owned();
        let matches = tokio::task::spawn_blocking(move || password::verify(&current, &stored))
            .await
            .unwrap_or(false);
        if !matches {
            return Err(AuthError::InvalidCredentials);
        }
        self.set_password(context, user_id, new, false, Action::UpdateOwnProfile, now)
            .await
    }

    /// An admin's reset: a temporary password, returned once; every session
    /// of the user ends.
    pub async fn reset_password(
        &self,
        context: &CommandContext,
        user_id: UserId,
        now: DateTime<Utc>,
    ) -> Result<(Password, AppendOutcome), AuthError> {
        let temporary = Password::generate()?;
        let outcome = self
            .set_password(
                context,
                user_id,
                &temporary,
                true,
                Action::ResetPassword,
                now,
            )
            .await?;
        Ok((temporary, outcome))
    }

    /// Sets the password of a user just created directly by an admin.
    pub async fn set_initial_password(
        &self,
        context: &CommandContext,
        user_id: UserId,
        password: &Password,
        now: DateTime<Utc>,
    ) -> Result<AppendOutcome, AuthError> {
        self.set_password(context, user_id, password, false, Action::CreateUser, now)
            .await
    }

    /// Records the change in the log first, then stores the hash: the log
    /// never misses a change; if storing fails the caller gets the error and
    /// the old password stays valid.
    pub(crate) async fn set_password(
        &self,
        context: &CommandContext,
        user_id: UserId,
        password: &Password,
        temporary: bool,
        action: Action,
        now: DateTime<Utc>,
    ) -> Result<AppendOutcome, AuthError> {
        let hash = {
            let password = password.clone();
            tokio::task::spawn_blocking(move || password.hash())
                .await
                .map_err(|e| PasswordError::Hashing(e.to_string()))??
        };
        let record = users::RecordPassword {
            user_id,
            temporary,
            action,
        };
        let outcome = self.ledger.run(context, record).await?.outcome;
        self.credentials.set(user_id, &hash, now).await?;
        Ok(outcome)
    }

    /// On an empty store: creates the platform account and its first admin
    /// with a one-time password, returned to be printed once.
    pub async fn bootstrap(
        &self,
        email: &Email,
        now: DateTime<Utc>,
    ) -> Result<(AccountId, UserId, Password), AuthError> {
        if self.ledger.store().head().await?.position != 0 {
            return Err(AuthError::NotEmpty);
        }
        let system = CommandContext::system();
        let platform = AccountId(Uuid::now_v7());
        let platform_account = CreateAccount {
            account_id: platform,
            kind: AccountKind::Platform,
            name: "Platform".to_owned(),
            parent: None,
        };
        self.ledger.run(&system, platform_account).await?;
        let admin = NewUser {
            user_id: UserId(Uuid::now_v7()),
            email: email.clone(),
            name: "Platform admin".to_owned(),
            role: Role::Admin,
            origin: Origin::Bootstrap,
            invitation: None,
        };
        let admin_id = admin.user_id;
        let create = CreateUser {
            account_id: platform,
            user: admin,
            username: None,
        };
        self.ledger.run(&system, create).await?;
        let password = Password::generate()?;
        self.set_password(
            &system,
            admin_id,
            &password,
            true,
            // Printed, not e-mailed: no reset notice.
            Action::CreateUser,
            now,
        )
        .await?;
        Ok((platform, admin_id, password))
    }
}

/// How long an e-mailed sign-in code works.
const SIGN_IN_CODE_MINUTES: i64 = 15;

fn code_hash(code: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(code.trim().to_uppercase().as_bytes()))
}
