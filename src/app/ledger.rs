//! The `Ledger`: the application layer's machinery shared by every
//! command — loading states from streams, checking the permission matrix,
//! building metadata and appends, and retrying a command that lost a race.
//! The commands themselves live in `users.rs` and `sessions.rs`.

use std::future::Future;

use chrono::Duration;
use thiserror::Error;

use crate::app::context::{
    ActivityType, Actor, CommandContext, EventMetadata, EventRef, GrantBasis, GrantEvent,
};
use crate::app::stream_cache::{Decoded, DecodedStream, StreamCache};
use crate::domain::account::{self, AccountEvent, AccountState};
use crate::domain::codec::{decode, encode, CodecError};
use crate::domain::email::Email;
use crate::domain::ids::{
    AccountId, InvitationId, KitItemId, LicenseId, QuoteId, ServerId, SessionId, TicketId, UserId,
};
use crate::domain::invitation::{self, InvitationEvent, InvitationState};
use crate::domain::license::{self, LicenseEvent, LicenseState};
use crate::domain::partner_kit::{self, KitEvent, KitItemState};
use crate::domain::permissions::{self, Action, Denied, Grant, Relation};
use crate::domain::quote::{self, QuoteEvent, QuoteState};
use crate::domain::server::{self, ServerEvent, ServerState};
use crate::domain::session::{self, SessionEvent, SessionState};
use crate::domain::ticket::{self, TicketEvent, TicketState};
use crate::domain::user::{
    self, EmailClaim, EmailEvent, UserEvent, UserState, UsernameClaim, UsernameEvent,
};
use crate::domain::username::Username;
use crate::domain::DomainError;
use crate::event::{RecordedEvent, StreamId};
use crate::notify::{LogNotifier, SharedNotifier};
use crate::privacy::{PrivacyError, SharedPersonalData};
use crate::read_ports::SharedMemberIndex;
use crate::store::{AppendOutcome, ExpectedVersion, SharedStore, StoreError, StreamAppend};
use std::collections::BTreeMap;
use std::sync::Arc;

/// How often a command is decided again after losing a race.
pub(crate) const MAX_ATTEMPTS: usize = 8;
/// Events read per page when loading a stream.
const STREAM_PAGE: usize = 1000;

#[derive(Debug, Error)]
pub enum LedgerError {
    #[error(transparent)]
    Domain(#[from] DomainError),
    #[error(transparent)]
    Denied(#[from] Denied),
    #[error("the actor is not an active user or service account")]
    Unauthenticated,
    #[error("no randomness available: {0}")]
    Randomness(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Codec(#[from] CodecError),
    #[error(transparent)]
    Privacy(#[from] PrivacyError),
    #[error("the command lost {MAX_ATTEMPTS} races in a row; retry later")]
    Contention,
}

/// A state and the stream version it was read at.
pub struct Loaded<S> {
    pub(crate) state: S,
    pub(crate) version: u64,
}

/// The application service: every command goes through it.
#[derive(Clone)]
pub struct Ledger {
    store: SharedStore,
    personal: SharedPersonalData,
    pub(crate) notifier: SharedNotifier,
    pub(crate) retention: Duration,
    /// Where as-of lists start (see `app::members`); `None` scans the log.
    pub(crate) members: Option<SharedMemberIndex>,
    /// The decoded events of the streams commands fold (see
    /// `app::stream_cache`).
    streams: Arc<StreamCache>,
}

impl Ledger {
    /// A ledger over `store`, sealing personal data with `personal` (share
    /// one per process with the projections).
    pub fn new(store: SharedStore, personal: SharedPersonalData) -> Self {
        Self {
            store,
            personal,
            notifier: Arc::new(LogNotifier),
            retention: Duration::days(user::DEFAULT_RETENTION_DAYS),
            members: None,
            streams: Arc::new(StreamCache::default()),
        }
    }

    /// Lists the entities an account had at a moment from `index` (a read
    /// model) up to its checkpoint, instead of scanning the whole log.
    pub fn with_members(mut self, index: SharedMemberIndex) -> Self {
        self.members = Some(index);
        self
    }

    /// Where e-mails go (the log output by default).
    pub fn with_notifier(mut self, notifier: SharedNotifier) -> Self {
        self.notifier = notifier;
        self
    }

    /// How long a deleted user can be restored.
    pub fn with_retention(mut self, retention: Duration) -> Self {
        self.retention = retention;
        self
    }

    pub fn store(&self) -> &SharedStore {
        &self.store
    }

    pub fn personal_data(&self) -> &SharedPersonalData {
        &self.personal
    }

    pub(crate) async fn read_stream(
        &self,
        stream: &StreamId,
    ) -> Result<Vec<RecordedEvent>, LedgerError> {
        let mut events = Vec::new();
        loop {
            let from = events.len() as u64 + 1;
            let mut page = self.store.read_stream(stream, from, STREAM_PAGE).await?;
            self.personal.open(&mut page).await?;
            let done = page.len() < STREAM_PAGE;
            events.extend(page);
            if done {
                return Ok(events);
            }
        }
    }

    /// Folds a stream's events into a state with `evolve` (which also gets
    /// each event's time); the version read is the expectation of the
    /// command's append.
    pub(crate) async fn fold<E, S>(
        &self,
        stream: &StreamId,
        evolve: impl Fn(S, &E, chrono::DateTime<chrono::Utc>) -> S,
    ) -> Result<Loaded<S>, LedgerError>
    where
        E: serde::de::DeserializeOwned + Clone + Send + Sync + 'static,
        S: Default,
    {
        self.fold_noting(stream, evolve, |_: &E, _| {}).await
    }

    /// [`fold`](Self::fold) that also shows `note` each event with its
    /// place in the log (for a command that records which events it rests
    /// on: a grant, a preference).
    pub(crate) async fn fold_noting<E, S>(
        &self,
        stream: &StreamId,
        evolve: impl Fn(S, &E, chrono::DateTime<chrono::Utc>) -> S,
        mut note: impl FnMut(&E, EventRef),
    ) -> Result<Loaded<S>, LedgerError>
    where
        E: serde::de::DeserializeOwned + Clone + Send + Sync + 'static,
        S: Default,
    {
        let events = self.decoded_stream::<E>(stream).await?;
        let mut state = S::default();
        for decoded in events.iter() {
            note(&decoded.event, decoded.at);
            state = evolve(state, &decoded.event, decoded.recorded_at);
        }
        Ok(Loaded {
            state,
            version: events.len() as u64,
        })
    }

    /// A stream's events decoded as `E`, from its first: those decoded by
    /// earlier commands and whatever was appended after them.
    async fn decoded_stream<E>(&self, stream: &StreamId) -> Result<DecodedStream<E>, LedgerError>
    where
        E: serde::de::DeserializeOwned + Clone + Send + Sync + 'static,
    {
        let generation = self.personal.generation();
        let known: DecodedStream<E> = self
            .streams
            .get::<E>(stream.as_str(), generation)
            .unwrap_or_default();
        let mut fresh = Vec::new();
        loop {
            let from = (known.len() + fresh.len()) as u64 + 1;
            let mut page = self.store.read_stream(stream, from, STREAM_PAGE).await?;
            self.personal.open(&mut page).await?;
            for event in &page {
                fresh.push(Decoded {
                    event: decode::<E>(event)?,
                    at: EventRef::of(event),
                    recorded_at: event.recorded_at,
                });
            }
            if page.len() < STREAM_PAGE {
                break;
            }
        }
        if fresh.is_empty() {
            return Ok(known);
        }
        let mut all = Vec::with_capacity(known.len() + fresh.len());
        all.extend(known.iter().cloned());
        all.extend(fresh);
        let all = Arc::new(all);
        self.streams.put(stream.as_str(), generation, all.clone());
        Ok(all)
    }

    /// A user and the last of their events `pick` chooses.
    pub(crate) async fn load_user_noting(
        &self,
        id: UserId,
        pick: impl Fn(&UserEvent) -> bool,
    ) -> Result<(Loaded<UserState>, Option<EventRef>), LedgerError> {
        let mut picked = None;
        let loaded = self
            .fold_noting(
                &id.stream(),
                |s, e: &UserEvent, at| user::evolve(s, e, at),
                |e, at| {
                    if pick(e) {
                        picked = Some(at);
                    }
                },
            )
            .await?;
        Ok((loaded, picked))
    }

    pub(crate) async fn load_account(
        &self,
        id: AccountId,
    ) -> Result<Loaded<AccountState>, LedgerError> {
        self.fold(&id.stream(), |s, e: &AccountEvent, _| account::evolve(s, e))
            .await
    }

    pub(crate) async fn load_user(&self, id: UserId) -> Result<Loaded<UserState>, LedgerError> {
        self.fold(&id.stream(), |s, e: &UserEvent, at| user::evolve(s, e, at))
            .await
    }

    pub(crate) async fn load_claim(
        &self,
        email: &Email,
    ) -> Result<Loaded<EmailClaim>, LedgerError> {
        self.fold(&email.claim_stream(), |s, e: &EmailEvent, _| {
            user::evolve_claim(s, e)
        })
        .await
    }

    pub(crate) async fn load_username_claim(
        &self,
        username: &Username,
    ) -> Result<Loaded<UsernameClaim>, LedgerError> {
        self.fold(&username.claim_stream(), |s, e: &UsernameEvent, _| {
            user::evolve_username_claim(s, e)
        })
        .await
    }

    pub(crate) async fn load_session(
        &self,
        id: SessionId,
    ) -> Result<Loaded<SessionState>, LedgerError> {
        self.fold(&id.stream(), |s, e: &SessionEvent, at| {
            session::evolve(s, e, at)
        })
        .await
    }

    pub(crate) async fn load_license(
        &self,
        id: LicenseId,
    ) -> Result<Loaded<LicenseState>, LedgerError> {
        self.fold(&id.stream(), |s, e: &LicenseEvent, _| license::evolve(s, e))
            .await
    }

    pub(crate) async fn load_server(
        &self,
        id: ServerId,
    ) -> Result<Loaded<ServerState>, LedgerError> {
        self.fold(&id.stream(), |s, e: &ServerEvent, _| server::evolve(s, e))
            .await
    }

    /// A server and the last event that decided its partner access
    /// (registration, grant or revocation).
    pub(crate) async fn load_server_noting_access(
        &self,
        id: ServerId,
    ) -> Result<(Loaded<ServerState>, Option<EventRef>), LedgerError> {
        let mut access = None;
        let loaded = self
            .fold_noting(
                &id.stream(),
                |s, e: &ServerEvent, _| server::evolve(s, e),
                |e, at| {
                    if matches!(
                        e,
                        ServerEvent::Registered { .. }
                            | ServerEvent::PartnerAccessGranted { .. }
                            | ServerEvent::PartnerAccessRevoked
                            | ServerEvent::PartnerAccessExtended { .. }
                            | ServerEvent::PartnerAccessExpired { .. }
                    ) {
                        access = Some(at);
                    }
                },
            )
            .await?;
        Ok((loaded, access))
    }

    pub(crate) async fn load_ticket(
        &self,
        id: TicketId,
    ) -> Result<Loaded<TicketState>, LedgerError> {
        self.fold(&id.stream(), |s, e: &TicketEvent, _| ticket::evolve(s, e))
            .await
    }

    pub(crate) async fn load_quote(&self, id: QuoteId) -> Result<Loaded<QuoteState>, LedgerError> {
        self.fold(&id.stream(), |s, e: &QuoteEvent, _| quote::evolve(s, e))
            .await
    }

    pub(crate) async fn load_kit_item(
        &self,
        id: KitItemId,
    ) -> Result<Loaded<KitItemState>, LedgerError> {
        self.fold(&id.stream(), |s, e: &KitEvent, _| partner_kit::evolve(s, e))
            .await
    }

    pub(crate) async fn load_invitation(
        &self,
        id: InvitationId,
    ) -> Result<Loaded<InvitationState>, LedgerError> {
        self.fold(&id.stream(), |s, e: &InvitationEvent, _| {
            invitation::evolve(s, e)
        })
        .await
    }

    /// The current state of a user (for reads until projections exist).
    pub async fn user(&self, id: UserId) -> Result<UserState, LedgerError> {
        Ok(self.load_user(id).await?.state)
    }

    /// The current state of an account.
    pub async fn account(&self, id: AccountId) -> Result<AccountState, LedgerError> {
        Ok(self.load_account(id).await?.state)
    }

    /// Checks the permission matrix for the actor against `target`; returns
    /// the grant (none for the system) and the actor's e-mail and account.
    pub(crate) async fn authorize(
        &self,
        context: &CommandContext,
        action: Action,
        target: &AccountState,
    ) -> Result<Authorized, LedgerError> {
        let Some(acting) = self.acting(context).await? else {
            return Ok(Authorized::default());
        };
        if acting.user.is_none() && action.needs_a_person() {
            return Err(DomainError::PersonRequired.into());
        }
        let relation = self.relation(&acting, target).await?;
        let grant = permissions::authorize(acting.role, action, relation)?;
        let mut because: Vec<GrantEvent> = acting
            .role_event
            .map(|at| GrantEvent::new(GrantBasis::Role, at))
            .into_iter()
            .collect();
        if let (Relation::Customer { .. }, Some(at)) = (relation, acting.assignment_event) {
            because.push(GrantEvent::new(GrantBasis::CustomerAssignment, at));
        }
        Ok(Authorized {
            grant: Some(grant),
            email: acting.email,
            name: acting.name,
            account: Some(acting.account),
            user: acting.user,
            because,
        })
    }

    /// Checks that the actor may do `action` in `account` (a read's
    /// question; an unknown account is hidden like a forbidden one), and
    /// how (`Authorized::via_partner`).
    pub(crate) async fn authorize_in(
        &self,
        context: &CommandContext,
        action: Action,
        account: AccountId,
    ) -> Result<Authorized, LedgerError> {
        let state = self.load_account(account).await?.state;
        if !state.exists() {
            return Err(Denied::Hidden.into());
        }
        self.authorize(context, action, &state).await
    }

    /// Decides and appends, deciding again whenever a stream moved between
    /// reading and appending; returns the report of the attempt that was
    /// appended.
    pub(crate) async fn retry_with<'a, T, F, Fut>(
        &'a self,
        mut attempt: F,
    ) -> Result<(AppendOutcome, T), LedgerError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<(Vec<StreamAppend>, T), LedgerError>> + 'a,
    {
        for _ in 0..MAX_ATTEMPTS {
            let (appends, report) = attempt().await?;
            match self.append_sealed(appends).await {
                Ok(outcome) => return Ok((outcome, report)),
                Err(LedgerError::Store(StoreError::WrongExpectedVersion { .. })) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(LedgerError::Contention)
    }

    /// Seals the personal data in `appends` and appends them atomically.
    pub(crate) async fn append_sealed(
        &self,
        mut appends: Vec<StreamAppend>,
    ) -> Result<AppendOutcome, LedgerError> {
        self.personal.seal(&mut appends).await?;
        Ok(self.store.append(appends).await?)
    }

    pub(crate) async fn load_user_and_account(
        &self,
        user_id: UserId,
    ) -> Result<(Loaded<UserState>, Loaded<AccountState>), LedgerError> {
        let target = self.load_user(user_id).await?;
        let account_id = target.state.account_id.ok_or(DomainError::UserNotFound)?;
        let account = self.load_account(account_id).await?;
        Ok((target, account))
    }
}

/// What the permission check established about the actor.
#[derive(Debug, Clone, Default)]
pub struct Authorized {
    pub(crate) grant: Option<Grant>,
    pub(crate) email: Option<Email>,
    /// A service account's name.
    pub(crate) name: Option<String>,
    pub(crate) account: Option<AccountId>,
    pub(crate) user: Option<UserId>,
    /// The events in force that the grant rests on.
    pub(crate) because: Vec<GrantEvent>,
}

impl Authorized {
    /// The actor as themself, for a command no matrix is asked about
    /// (see `Permission::own_session`): their address and account as the
    /// command read them, no grant. The actor must be a user.
    pub(crate) fn themself(
        context: &CommandContext,
        actor: &UserState,
    ) -> Result<Self, LedgerError> {
        let user_id = match context.actor() {
            Actor::User(user_id) => user_id,
            Actor::Service(_) => return Err(DomainError::PersonRequired.into()),
            Actor::System => return Err(LedgerError::Unauthenticated),
        };
        Ok(Self {
            email: actor.email.clone(),
            account: actor.account_id,
            user: Some(user_id),
            ..Self::default()
        })
    }

    /// The invitee accepting an invitation (see `Permission::invitee`):
    /// the context's actor, with the invited address, in `account`; no
    /// grant.
    pub(crate) fn invitee(
        context: &CommandContext,
        email: &Email,
        account: Option<AccountId>,
    ) -> Result<Self, LedgerError> {
        let user_id = match context.actor() {
            Actor::User(user_id) => user_id,
            Actor::Service(_) => return Err(DomainError::PersonRequired.into()),
            Actor::System => return Err(LedgerError::Unauthenticated),
        };
        Ok(Self {
            email: Some(email.clone()),
            account,
            user: Some(user_id),
            ..Self::default()
        })
    }

    pub(crate) fn metadata(
        &self,
        context: &CommandContext,
        account: AccountId,
        action: ActivityType,
        description: String,
    ) -> EventMetadata {
        EventMetadata::new(
            context,
            self.email.as_ref(),
            self.account,
            account,
            action,
            description,
            self.grant,
        )
        .named(self.name.as_deref())
        .with_grant_events(&self.because)
    }

    /// Whether the actor is a partner's staff acting in a customer.
    pub(crate) fn via_partner(&self) -> bool {
        self.grant
            .is_some_and(|g| matches!(g.relation, Relation::Customer { .. }))
    }

    /// Adds an event the grant rests on (a partner-access grant).
    pub(crate) fn also_because(&mut self, basis: GrantBasis, at: EventRef) {
        if self.grant.is_some() {
            self.because.push(GrantEvent::new(basis, at));
        }
    }
}

pub(crate) fn display_email(state: &UserState) -> String {
    state
        .email
        .as_ref()
        .map_or_else(|| "an erased user".to_owned(), |e| e.to_string())
}

pub(crate) fn append<E: serde::Serialize>(
    stream: StreamId,
    version: u64,
    events: &[E],
    metadata: &EventMetadata,
) -> Result<StreamAppend, LedgerError> {
    let metadata = metadata.to_json();
    let events = events
        .iter()
        .map(|e| encode(e, &metadata))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(StreamAppend::new(
        stream,
        ExpectedVersion::Exact(version),
        events,
    ))
}

/// Claim events (an address's or a username's) grouped by claim stream,
/// each with the version its claim was read at — `None` for a claim the
/// command did not read: one the user held and releases, which nobody else
/// can take until it is released, so it is appended whatever its version.
pub(crate) fn by_claim_stream<K: PartialEq, E>(
    events: Vec<(K, E)>,
    read: &[(&K, u64)],
    stream_of: impl Fn(&K) -> StreamId,
) -> BTreeMap<StreamId, (Option<u64>, Vec<E>)> {
    let mut by_stream: BTreeMap<StreamId, (Option<u64>, Vec<E>)> = BTreeMap::new();
    for (claim, event) in events {
        let version = read.iter().find(|(k, _)| **k == claim).map(|(_, v)| *v);
        by_stream
            .entry(stream_of(&claim))
            .or_insert((version, Vec::new()))
            .1
            .push(event);
    }
    by_stream
}
