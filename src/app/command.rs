//! A command is a value; [`Ledger::run`] executes any of them.
//!
//! Every action of the product goes through the same five steps: read the
//! streams the decision rests on, ask the permission matrix, decide (pure
//! domain code), stamp the activity entry (who, why, on what), append with
//! the versions read as expectations — and, when another command moved one
//! of those streams in between, do it all again. Written once here, each
//! action only says what is particular to it (the [`Command`] trait): what
//! it reads, where the matrix is asked, and how it decides. A new action is
//! a new type; nothing in the pipeline changes.
//!
//! Why a trait and not closures: the command's fields are the request
//! (the HTTP edge builds the value from path and body, tests build it
//! directly), so "what does changing a role do" is one type to open.

use std::future::Future;

use serde::Serialize;
use uuid::Uuid;

use crate::app::context::{ActivityType, CommandContext, EventRef, GrantBasis};
use crate::app::ledger::{Authorized, Ledger, LedgerError};
use crate::app::notifications::Notice;
use crate::domain::account::AccountState;
use crate::domain::codec::encode;
use crate::domain::email::Email;
use crate::domain::ids::{AccountId, NotificationId};
use crate::domain::permissions::{self, Action};
use crate::domain::user::UserState;
use crate::domain::DomainError;
use crate::event::{JsonObject, NewEvent, StreamId};
use crate::privacy::subject::Subject;
use crate::store::{AppendOutcome, ExpectedVersion, StreamAppend};

/// One action of the product, as a value: what it rests on
/// ([`Command::Facts`], which also says how those are read and where the
/// matrix is asked) and how it decides. `Output` is what the caller gets
/// besides the positions appended (most commands: nothing).
pub trait Command<Output = ()>: Send + Sync + Sized {
    /// What the decision rests on: states read from the log, each with
    /// the version it was read at.
    type Facts: Facts<Self>;

    /// The decision: the events to append and the activity entry that
    /// explains them. Pure: no I/O, only the facts and who is acting.
    fn decide(
        &self,
        facts: &Self::Facts,
        actor: &Authorized,
    ) -> Result<Decision<Output>, LedgerError>;
}

/// How the facts of a command `C` are read, and where the matrix is asked
/// for it. Facts shared by an area (a server, a quote, a user…) answer for
/// every command of the area at once, from what the command names (see
/// [`OnEntity`]); a command with facts of its own answers alone.
pub trait Facts<C>: Sized + Send + Sync {
    /// Reads the streams the decision rests on (which may depend on who
    /// acts: the partner kit is the actor's platform's).
    fn load(
        ledger: &Ledger,
        context: &CommandContext,
        command: &C,
    ) -> impl Future<Output = Result<Self, LedgerError>> + Send;

    /// Where the permission matrix is asked, and for what.
    fn permission(&self, command: &C) -> Result<Permission<'_>, LedgerError>;
}

/// A command on one existing entity of an area: which one (`Id`), and the
/// action asked of the matrix. The area's facts read the entity and ask
/// in its account.
pub trait OnEntity<Id> {
    /// The action asked of the matrix.
    const ACTION: Action;

    /// The entity acted on.
    fn entity(&self) -> Id;
}

/// The question a command puts to the permission matrix.
pub struct Permission<'f> {
    pub(crate) asked: Asked<'f>,
    /// The account the command acts in (the activity entry's account).
    pub(crate) account: &'f AccountState,
    /// For a command on a server: a partner's staff act only while the
    /// customer's grant stands.
    pub(crate) partner_access: Option<PartnerAccess>,
    /// The account the activity entry belongs to, when it is not the one
    /// the matrix is asked in (a new account is asked in its parent).
    pub(crate) recorded_in: Option<AccountId>,
}

impl<'f> Permission<'f> {
    pub(crate) fn to(action: Action, account: &'f AccountState) -> Self {
        Self {
            asked: Asked::Matrix(action),
            account,
            partner_access: None,
            recorded_in: None,
        }
    }

    /// Opening or closing one's own session: the actor proved who they are
    /// to `Auth` a moment before (a password, the session's token), so the
    /// matrix is not asked; the entry names the actor, in their `account`.
    /// Only `Auth` builds the commands that answer this (their fields are
    /// not public).
    pub(crate) fn own_session(account: &'f AccountState, actor: &'f UserState) -> Self {
        Self {
            asked: Asked::Themself(actor),
            account,
            partner_access: None,
            recorded_in: None,
        }
    }

    /// Accepting an invitation: the link's secret, checked by the
    /// decision, is the authorization; the entry names the invitee (the
    /// context's actor, a user about to exist) with `email`, in `account`.
    /// Only `Auth` builds that command.
    pub(crate) fn invitee(account: &'f AccountState, email: &'f Email) -> Self {
        Self {
            asked: Asked::Invitee(email),
            account,
            partner_access: None,
            recorded_in: None,
        }
    }

    /// Records the activity in `account` rather than where the matrix is
    /// asked.
    pub(crate) fn recorded_in(mut self, account: AccountId) -> Self {
        self.recorded_in = Some(account);
        self
    }

    /// Also requires, of a partner's staff, the customer's grant of access
    /// to a server (and records the event that granted it).
    pub(crate) fn on_server(mut self, access: PartnerAccess) -> Self {
        self.partner_access = Some(access);
        self
    }
}

/// Who answers a command's permission.
pub(crate) enum Asked<'f> {
    /// The matrix, for this action.
    Matrix(Action),
    /// Nobody: the actor (as read with the command's facts) proved who they
    /// are to `Auth` ([`Permission::own_session`]).
    Themself(&'f UserState),
    /// Nobody: the invitee, with this address, holds the invitation's
    /// secret ([`Permission::invitee`]).
    Invitee(&'f Email),
}

/// A server's partner access as it stands, and the event that decided it.
#[derive(Debug, Clone, Copy)]
pub struct PartnerAccess {
    pub(crate) granted: bool,
    pub(crate) decided_by: Option<EventRef>,
}

/// What a command decided: its events by stream, the activity entry that
/// explains them, and what it reports back.
pub struct Decision<T = ()> {
    activity: ActivityType,
    description: String,
    targets: Vec<(&'static str, String)>,
    names_nobody: bool,
    changes: Vec<Change>,
    notices: Vec<Notice>,
    erased: Vec<Subject>,
    output: T,
}

impl Decision<()> {
    pub(crate) fn new(activity: ActivityType, description: impl Into<String>) -> Self {
        Self {
            activity,
            description: description.into(),
            targets: Vec::new(),
            names_nobody: false,
            changes: Vec::new(),
            notices: Vec::new(),
            erased: Vec::new(),
            output: (),
        }
    }
}

impl<T> Decision<T> {
    /// An entity the activity entry is about.
    pub(crate) fn target(mut self, kind: &'static str, id: impl ToString) -> Self {
        self.targets.push((kind, id.to_string()));
        self
    }

    /// The description names no person (it stays in clear when the targets
    /// are people; see `crate::privacy`).
    pub(crate) fn names_nobody(mut self) -> Self {
        self.names_nobody = true;
        self
    }

    /// An e-mail the command sends: recorded (`notification.queued`) in
    /// the same append, handed to the notifier only once that append
    /// succeeded — so no e-mail announces what did not happen.
    pub(crate) fn notify(mut self, notice: Notice) -> Self {
        self.notices.push(notice);
        self
    }

    /// Events for one more stream (the first stream's first event is the
    /// activity entry).
    pub(crate) fn change(mut self, change: Change) -> Self {
        self.changes.push(change);
        self
    }

    /// Personal data the command destroys (a purge): the subjects' keys
    /// are erased before the append — if the append then fails, the data
    /// is already unreadable and the command, decided again, finds no key.
    /// The activity entry then names nobody.
    pub(crate) fn erasing(mut self, subjects: Vec<Subject>) -> Self {
        if !subjects.is_empty() {
            self.names_nobody = true;
        }
        self.erased.extend(subjects);
        self
    }

    /// What the command reports back besides the positions appended.
    pub(crate) fn reporting<U>(self, output: U) -> Decision<U> {
        Decision {
            activity: self.activity,
            description: self.description,
            targets: self.targets,
            names_nobody: self.names_nobody,
            changes: self.changes,
            notices: self.notices,
            erased: self.erased,
            output,
        }
    }
}

/// Events for one stream, expected at the version the decision read.
pub struct Change {
    stream: StreamId,
    expected: ExpectedVersion,
    events: Vec<NewEvent>,
}

impl Change {
    /// `events` for `stream`, read at `version`.
    pub(crate) fn at<E: Serialize>(
        stream: StreamId,
        version: u64,
        events: &[E],
    ) -> Result<Self, LedgerError> {
        let events = events
            .iter()
            .map(|e| encode(e, &JsonObject::empty()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            stream,
            expected: ExpectedVersion::Exact(version),
            events,
        })
    }

    /// `events` for a stream the decision did not read (an e-mail or
    /// username claim released by the user that held it): appended
    /// whatever its version.
    pub(crate) fn unread<E: Serialize>(
        stream: StreamId,
        events: &[E],
    ) -> Result<Self, LedgerError> {
        let mut change = Self::at(stream, 0, events)?;
        change.expected = ExpectedVersion::Any;
        Ok(change)
    }
}

/// What [`Ledger::run`] did: the positions appended and the command's
/// report.
#[derive(Debug)]
pub struct Ran<T = ()> {
    pub outcome: AppendOutcome,
    pub output: T,
}

impl<T> Ran<T> {
    /// Where the command's last event landed.
    pub fn last_position(&self) -> u64 {
        self.outcome.last_position()
    }
}

impl Ledger {
    /// Runs `command` as `context`'s actor: load → authorize → decide →
    /// stamp → append, decided again (up to `MAX_ATTEMPTS` times) whenever
    /// a stream it read moved before its append.
    pub async fn run<O: Send, C: Command<O>>(
        &self,
        context: &CommandContext,
        command: C,
    ) -> Result<Ran<O>, LedgerError> {
        let command = &command;
        let (outcome, (output, notices)) = self
            .retry_with(|| async move {
                let facts = C::Facts::load(self, context, command).await?;
                let permission = facts.permission(command)?;
                let account = permission.recorded_in.or(permission.account.account_id);
                let mut authorized = match permission.asked {
                    Asked::Matrix(action) => {
                        let authorized =
                            self.authorize(context, action, permission.account).await?;
                        // What the account's kind does not have at all is
                        // refused the same way the access view leaves it out.
                        if let Some(kind) = permission.account.kind {
                            if let Some(refusal) = permissions::refused_in(action, kind) {
                                return Err(refusal.into());
                            }
                        }
                        authorized
                    }
                    Asked::Themself(actor) => Authorized::themself(context, actor)?,
                    Asked::Invitee(email) => Authorized::invitee(context, email, account)?,
                };
                if let Some(access) = permission.partner_access {
                    if authorized.via_partner() {
                        if !access.granted {
                            return Err(DomainError::PartnerAccessNotGranted.into());
                        }
                        // The customer's grant in force is part of why it
                        // was allowed.
                        if let Some(at) = access.decided_by {
                            authorized.also_because(GrantBasis::PartnerAccess, at);
                        }
                    }
                }
                let decision = command.decide(&facts, &authorized)?;
                // The domain names a missing entity precisely; this is the
                // last word for one it did not check.
                let account = account.ok_or(DomainError::NotFound)?;
                let mut metadata =
                    authorized.metadata(context, account, decision.activity, decision.description);
                for (kind, id) in decision.targets {
                    metadata = metadata.with_target(kind, id);
                }
                if !decision.erased.is_empty() {
                    self.personal_data().erase(&decision.erased).await?;
                }
                if decision.names_nobody {
                    metadata = metadata.names_nobody();
                }
                let mut notice_appends = Vec::with_capacity(decision.notices.len());
                for notice in &decision.notices {
                    notice_appends.push(notice.append(NotificationId(Uuid::now_v7()), &metadata)?);
                }
                let metadata = metadata.to_json();
                let mut appends: Vec<StreamAppend> = decision
                    .changes
                    .into_iter()
                    .map(|change| {
                        let events = change
                            .events
                            .into_iter()
                            .map(|e| e.with_metadata(metadata.clone()))
                            .collect();
                        StreamAppend::new(change.stream, change.expected, events)
                    })
                    .collect();
                appends.extend(notice_appends);
                Ok((appends, (decision.output, decision.notices)))
            })
            .await?;
        for notice in &notices {
            self.deliver(notice);
        }
        Ok(Ran { outcome, output })
    }
}
